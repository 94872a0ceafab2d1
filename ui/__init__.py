"""Helpers shared by the Streamlit pages: figure builders and display formatting (no maths)."""
