"""A Flask shop with production settings as on Heroku: HTTPS only behind the router, config from the env."""

import os
import sys
from urllib.parse import urlsplit

from flask import Flask, jsonify, redirect, request

app = Flask(__name__)
IS_HEROKU_APP = "DYNO" in os.environ


@app.before_request
def https_only():
    """SECURE_SSL_REDIRECT, as Django does it: the router says what the client used."""
    if IS_HEROKU_APP and request.headers.get("X-Forwarded-Proto", "http") != "https":
        return redirect(request.url.replace("http://", "https://", 1), code=301)
    return None


@app.get("/")
def index():
    return jsonify(
        dyno=os.environ.get("DYNO"),
        scheme=request.headers.get("X-Forwarded-Proto"),
        python=sys.prefix,
        version=".".join(map(str, sys.version_info[:3])),
    )


@app.get("/db")
def db():
    url = urlsplit(os.environ.get("DATABASE_URL", ""))
    return jsonify(scheme=url.scheme or None, host=url.hostname)
