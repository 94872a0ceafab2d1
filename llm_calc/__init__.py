"""llm_calc: the arithmetic behind LLM Primer.

Pure Python, no Streamlit: every number the dashboard shows is computed here, so the same figures
come from the CLI (``python -m llm_calc``) and from the tests. Sizes are integers in bytes inside
the package; conversion to GiB happens only where a number is shown (``llm_calc.units``).
"""

__version__ = "0.1.0"
