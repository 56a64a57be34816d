"""Signing in: people through the organisation's OpenID Connect provider (`st.login`, when `vigil up` configured
one), or by pasting an API token (the local demo, and any deployment without a provider). Either way the dashboard
then calls the API with a bearer token as that person: the provider's ID token (`st.user.tokens`), which the API
verifies itself, or the pasted token."""

from __future__ import annotations

import os

import streamlit as st

from dashboard import api_client as api
from dashboard.formatting import plain


def through_provider() -> bool:
    """Whether people sign in through a provider: `vigil up` sets DASHBOARD_SIGN_IN=oidc for the dashboard it
    starts when OIDC_ISSUER is set, beside the `[auth]` secrets st.login reads."""
    return os.environ.get("DASHBOARD_SIGN_IN") == "oidc"


def follow_provider() -> None:
    """Take the bearer token from the provider's sign-in cookie on every run: a new sign-in brings a new ID token."""
    tokens = st.user.tokens if st.user.is_logged_in else {}
    if "id" in tokens:
        if st.session_state.get("token") != tokens["id"]:
            st.session_state.pop("me", None)
        st.session_state["token"] = tokens["id"]
    elif "token" in st.session_state:  # signed out (or the cookie expired) since the last run
        api.sign_out()


def page() -> None:
    st.title("Vigil — sign in")
    if through_provider():
        st.caption("Sign in with your organisation's account.")
        if st.button("Sign in", type="primary"):
            st.login()
        return
    st.caption("Paste the API token you were given (`vigil token create`, or printed by `make run`).")
    with st.form("sign_in"):
        entered = st.text_input("API token", type="password", key="token_input")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        st.session_state["token"] = entered.strip()
        try:
            st.session_state["me"] = api.sign_in()
        except api.ApiError as exc:
            api.sign_out()
            st.error(f"Sign-in failed: {plain(exc.detail)}")
            return
        st.rerun()


def who_or_stop() -> dict:
    """The signed-in person (GET /me; a provider's person is recorded as a dashboard sign-in the first time in
    this session, which is also when the API makes their user), or the API's reason and the page stopped."""
    if "me" in st.session_state:
        return st.session_state["me"]
    try:
        st.session_state["me"] = api.sign_in() if through_provider() else api.me()
        return st.session_state["me"]
    except api.ApiError as exc:
        api.sign_out()
        if not through_provider():
            st.error(f"Your session ended: {plain(exc.detail)}")
        elif exc.status == 401:
            st.warning(f"Your sign-in has expired: {plain(exc.detail)}")
            st.button("Sign in again", type="primary", on_click=st.login)
        else:
            st.error(f"You may not use Vigil: {plain(exc.detail)}")
            st.button("Sign out", on_click=st.logout)
        st.stop()
        raise


def sign_out() -> None:
    api.sign_out()
    if through_provider():
        st.logout()
    else:
        st.rerun()
