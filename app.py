"""LLM Primer: entry point and navigation. Run with `streamlit run app.py`."""

import streamlit as st

st.set_page_config(page_title="LLM Primer", page_icon=":material/neurology:", layout="wide")

HOME = "app_pages/home.py"


def open_overview() -> None:
    """/overview: Streamlit serves the default page at the root only, so its name would open "Page
    not found"; this hidden page sends the link to the overview."""
    st.switch_page(HOME)


PAGES = {
    "Primer": [
        st.Page(HOME, title="Overview", icon=":material/home:", url_path="home", default=True),
        st.Page(open_overview, title="Overview", url_path="overview", visibility="hidden"),
        st.Page("app_pages/primer_foundations.py", title="Model foundations", icon=":material/school:",
                url_path="foundations"),
        st.Page("app_pages/primer_inference.py", title="Model inference", icon=":material/chat:",
                url_path="inference"),
        st.Page("app_pages/primer_hardware.py", title="Hardware requirements", icon=":material/developer_board:",
                url_path="hardware"),
        st.Page("app_pages/primer_sources.py", title="Sources", icon=":material/menu_book:", url_path="sources"),
    ],
    "Tools": [
        st.Page("app_pages/token_estimator.py", title="Token estimator", icon=":material/token:",
                url_path="token_estimator"),
        st.Page("app_pages/hardware_calculator.py", title="Hardware calculator", icon=":material/memory:",
                url_path="hardware_calculator"),
        st.Page("app_pages/serving.py", title="Serving", icon=":material/speed:", url_path="serving"),
        st.Page("app_pages/training.py", title="Training and fine-tuning", icon=":material/model_training:",
                url_path="training"),
        st.Page("app_pages/accuracy.py", title="Accuracy", icon=":material/verified:", url_path="accuracy"),
    ],
}  # fmt: skip

st.navigation(PAGES).run()
