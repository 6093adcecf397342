"""The Streamlit admin app (run with `switchboard admin`): a login gate, then the pages of admin/nav.py.

Before sign-in the only page registered is the login form, so no URL reaches a page with data. The pages live
in admin/views/, not admin/pages/: Streamlit runs scripts under a `pages/` folder on its own (bypassing this
gate) in a process that has not called `st.navigation` yet.
"""

from __future__ import annotations

import streamlit as st

from admin import auth, nav, ui

st.set_page_config(page_title="Switchboard admin", page_icon=":material/hub:", layout="wide")
st.set_option("client.showErrorDetails", "type")  # never a traceback in the browser: it could carry secrets
st.set_option("client.toolbarMode", "viewer")  # no "Deploy" or developer menu for admins

login = auth.current_login()
if login is None:
    page = st.navigation([st.Page(auth.login_page, title="Sign in", url_path="login")], position="hidden")
else:
    auth.sidebar(auth.touch(login))
    page = st.navigation(nav.navigation_pages())
    ui.show_flashes()
page.run()
