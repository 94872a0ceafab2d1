# LLM Primer: one app replica. Build: docker build -t llm-primer .   Run: docker run -p 8501:8501 llm-primer
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 app
WORKDIR /app

# Dependencies first, so code changes reuse this layer. Tokenizer files come from these packages
# and from data/: nothing is downloaded when the app runs.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=app:app app.py ./
COPY --chown=app:app app_pages ./app_pages
COPY --chown=app:app llm_calc ./llm_calc
COPY --chown=app:app ui ./ui
COPY --chown=app:app data ./data
COPY --chown=app:app deploy/config.toml ./.streamlit/config.toml

USER app
EXPOSE 8501

# Every replica behind a load balancer must share STREAMLIT_SERVER_COOKIE_SECRET (see README).
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
    CMD python -c "import sys, urllib.request; body = urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read(); sys.exit(0 if body.strip() == b'ok' else 1)"

CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0"]
