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
st.set_option("client.showErrorDetails", "type")  # never a traceback in the browser: it could carry secrets

login = auth.current_login()
if login is None:
    page = st.navigation(auth.signed_out_pages(nav.PAGES), position="hidden")
else:
    auth.sidebar(auth.touch(login))
    auth.forget_setup_link()
    page = st.navigation(nav.navigation_pages())
    ui.show_flashes()
page.run()
auth.browser_cookie()  # last, so its empty element adds no gap above the page (a page that reruns sends it next run)
