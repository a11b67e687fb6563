"""The arena's Streamlit entry point (`streamlit run arena/app.py`, started by `molmo-arena arena serve`)."""

import streamlit as st

from arena.pages import admin_page, vote_page

st.set_page_config(page_title="molmo-arena", page_icon="⚖️", layout="wide")
st.navigation([
    st.Page(vote_page, title="Vote", url_path="vote", default=True),
    st.Page(admin_page, title="Admin", url_path="admin"),
]).run()
