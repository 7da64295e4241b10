#!/usr/bin/env python3
"""
ScriptsManager Metadata:
@description: Reports the interpreter, platform and arguments a script receives (for script authors)
@description_es: Informa del intérprete, la plataforma y los argumentos que recibe un script (para autores)
@description_it: Riporta interprete, piattaforma e argomenti ricevuti da uno script (per gli autori)
@description_fr: Indique l'interpréteur, la plateforme et les arguments reçus par un script (pour les auteurs)
@required_level: developer
@category: diagnostics
@tags: demo,diagnostics,secret
@parameters: [
  {"name": "token", "type": "secret",
   "description": {"en": "A secret: only its length is printed", "es": "Un secreto: solo se muestra su longitud", "it": "Un segreto: viene stampata solo la lunghezza", "fr": "Un secret : seule sa longueur est affichée"}},
  {"name": "since", "type": "date",
   "description": {"en": "Any date, echoed back", "es": "Cualquier fecha, se devuelve", "it": "Una data qualsiasi, ripetuta", "fr": "Une date quelconque, renvoyée"}},
  {"name": "checks", "type": "multiselect", "options": ["python", "platform", "arguments"], "default": ["python", "arguments"],
   "description": {"en": "What to report", "es": "Qué informar", "it": "Cosa riportare", "fr": "Quoi afficher"}}
]
@execution_timeout: 30
"""
import argparse
import json
import platform
import sys

STANDARD = ["data-dir", "user-level", "port", "project-id", "project-name", "theme", "language"]


def main():
    parser = argparse.ArgumentParser(description="Environment report")
    for name in STANDARD:
        parser.add_argument(f"--{name}", default="")
    parser.add_argument("--token", default="")
    parser.add_argument("--since", default="")
    parser.add_argument("--checks", default='["python", "arguments"]')
    args, unknown = parser.parse_known_args()
    try:
        checks = json.loads(args.checks)  # multiselect values arrive as a JSON array string
    except json.JSONDecodeError:
        print(f"--checks must be a JSON array, got {args.checks!r}", file=sys.stderr, flush=True)
        sys.exit(2)

    report = {}
    if "python" in checks:
        report["python"] = sys.version.split()[0]
        print(f"python {report['python']} at {sys.executable}", flush=True)
    if "platform" in checks:
        report["platform"] = platform.platform()
        print(f"platform {report['platform']}", flush=True)
    if "arguments" in checks:
        for name in STANDARD:
            print(f"--{name} = {getattr(args, name.replace('-', '_'))!r}", flush=True)
        print(f"since = {args.since!r}; token length = {len(args.token)}; ignored = {unknown!r}", flush=True)
    print("::result " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
