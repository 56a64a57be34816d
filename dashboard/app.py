import streamlit as st
st.write("placeholder")
