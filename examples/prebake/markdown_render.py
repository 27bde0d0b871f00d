"""Markdown to HTML, the library imported at init."""
import markdown

_md = markdown.Markdown(extensions=["tables"])


def handler(event, context):
    return {"html": _md.reset().convert(event.get("text", "# hello\n\n*prebaked*"))}
