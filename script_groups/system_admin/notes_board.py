#!/usr/bin/env python3
"""
ScriptsManager Metadata:
@description: A small web notice board kept in the project's data directory (interactive)
@description_es: Un pequeño tablón de notas web guardado en el directorio de datos del proyecto (interactivo)
@description_it: Una piccola bacheca web salvata nella directory dei dati del progetto (interattivo)
@description_fr: Un petit tableau de notes web conservé dans le répertoire de données du projet (interactif)
@required_level: admin
@category: tools
@tags: interactive,web,notes
@interactive: true
@execution_timeout: 1800
"""
import argparse
import html
import json
import os
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TEXT = {
    "en": ("Notes", "Add"),
    "es": ("Notas", "Añadir"),
    "it": ("Note", "Aggiungi"),
    "fr": ("Notes", "Ajouter"),
}


def main():
    parser = argparse.ArgumentParser(description="Interactive notice board")
    parser.add_argument("--data-dir", default=".")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--theme", default="light")
    parser.add_argument("--language", default="en")
    parser.add_argument("--project-name", default="")
    args, _unknown = parser.parse_known_args()

    os.makedirs(args.data_dir, exist_ok=True)
    store = os.path.join(args.data_dir, "notes.json")
    title, add = TEXT.get(args.language, TEXT["en"])
    dark = args.theme == "dark"

    def load():
        try:
            with open(store, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return []

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status, body, content_type="text/html; charset=utf-8"):
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.rstrip("/").endswith("healthz"):
                return self._send(200, "ok", "text/plain")
            items = "".join(f"<li>{html.escape(n)}</li>" for n in load())
            colors = "background:#1e1e1e;color:#eee" if dark else "background:#fff;color:#222"
            page = (
                f"<!doctype html><html lang='{html.escape(args.language)}'><head><meta charset='utf-8'>"
                f"<title>{title}</title></head><body style='font-family:sans-serif;{colors}'>"
                f"<h1>{title} — {html.escape(args.project_name)}</h1><ul>{items}</ul>"
                f"<form method='post' action='notes'><input name='note' required maxlength='500'>"
                f"<button>{add}</button></form></body></html>"
            )
            self._send(200, page)

        def do_POST(self):
            length = min(int(self.headers.get("Content-Length") or 0), 4096)
            form = urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8"))
            note = (form.get("note") or [""])[0].strip()
            if note:
                notes = load() + [note[:500]]
                with open(store, "w", encoding="utf-8") as f:
                    json.dump(notes, f)
                print(f"note added ({len(notes)} in total)", flush=True)
            self.send_response(303)
            self.send_header("Location", "./")
            self.end_headers()

        def log_message(self, fmt, *values):
            print("http: " + fmt % values, flush=True)

    # Loopback on a workstation; every interface inside a pod, where the Service reaches it.
    host = os.environ.get("SCRIPTORIUM_BIND_HOST") or ("0.0.0.0" if "KUBERNETES_SERVICE_HOST" in os.environ else "127.0.0.1")
    server = ThreadingHTTPServer((host, args.port), Handler)
    # The port is the platform's business: users reach the board through their session link.
    print("Serving the notice board; open it with the session link", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
