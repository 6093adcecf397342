"""The Streamlit admin app (run with `switchboard admin`, served by admin/server.py): a login gate, then the
pages of admin/nav.py.

Before sign-in every page's URL shows only the login form, so no URL reaches a page with data, and a bookmarked
page opens after sign-in. The pages live in admin/views/, not admin/pages/: Streamlit runs scripts under a
`pages/` folder on its own (bypassing this gate) in a process that has not called `st.navigation` yet.
"""

from __future__ import annotations

import streamlit as st

from admin import auth, nav, ui

st.set_page_config(page_title="Switchboard admin", page_icon=":material/hub:", layout="wide")
login = auth.current_login()
# The login form has no sidebar: without this, a tab signed out while it showed the pages keeps an empty one.
st.set_page_config(initial_sidebar_state="auto" if login else "collapsed")
st.set_option("client.showErrorDetails", "type")  # never a traceback in the browser: it could carry secrets

if login is None:
    page = st.navigation(auth.signed_out_pages(nav.PAGES), position="hidden")
else:
    auth.sidebar(auth.touch(login))
    auth.forget_setup_link()
    page = st.navigation(nav.navigation_pages())
    ui.show_flashes()
auth.browser_cookie()
page.run()
