"""A minimal Flask app with the two greeting routes and nothing else, as tutorials ship it."""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    """Greet nobody in particular."""
    return "Hallo from CORE!"


@app.route("/<name>/")
def hello_name(name):
    """Greet `name`."""
    return f"Hallo {name} from CORE!"


if __name__ == "__main__":
    from .waitress_runner import serve

    serve(app)
