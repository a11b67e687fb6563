"""The arena's Streamlit entry point (`streamlit run arena/app.py`, started by `molmo-arena arena serve`)."""

import streamlit as st

from arena.pages import admin_page, ask_page, keep_sign_ins_in_url, live_models, settle_heap, vote_page

settle_heap()
st.set_page_config(page_title="molmo-arena", page_icon="⚖️", layout="wide")
keep_sign_ins_in_url()
vote = st.Page(vote_page, title="Vote", url_path="vote", default=True)
st.session_state["vote_page"] = vote
pages = [vote] + ([st.Page(ask_page, title="Ask your own", url_path="ask")] if len(live_models()) >= 2 else [])
st.navigation([*pages, st.Page(admin_page, title="Admin", url_path="admin")], position="top").run()
