#!/usr/bin/env python3
"""
ScriptsManager Metadata:
@description: Creates a complete backup of the project's data with compression options
@description_long: docs/backup_system.md
@description_es: Crea una copia de seguridad completa de los datos del proyecto con opciones de compresión
@description_long_es: docs/backup_system_es.md
@description_it: Crea un backup completo dei dati del progetto con opzioni di compressione
@description_long_it: docs/backup_system_it.md
@description_fr: Crée une sauvegarde complète des données du projet avec options de compression
@description_long_fr: docs/backup_system_fr.md
@required_level: admin
@category: backup
@tags: system,maintenance,storage
@parameters: [
  { "name": "destination", "type": "path", "required": true, "description": "Backup destination directory" },
  { "name": "compression", "type": "select", "options": ["none", "gzip", "bzip2"], "default": "gzip" }
]
@execution_timeout: 3600
"""
import argparse
import json
import os
import sys
import tarfile
import time

MODES = {"none": ("w", ".tar"), "gzip": ("w:gz", ".tar.gz"), "bzip2": ("w:bz2", ".tar.bz2")}


def main():
    parser = argparse.ArgumentParser(description="Backs up the project's data directory")
    parser.add_argument("--data-dir", default=".")
    parser.add_argument("--destination", required=True)
    parser.add_argument("--compression", default="gzip", choices=sorted(MODES))
    args, _unknown = parser.parse_known_args()

    data_dir = os.path.realpath(args.data_dir)
    # The destination is a folder inside the data directory: a script never writes elsewhere.
    destination = os.path.realpath(os.path.join(data_dir, args.destination))
    if os.path.commonpath([data_dir, destination]) != data_dir:
        print(f"destination {args.destination!r} must stay inside the data directory", file=sys.stderr, flush=True)
        sys.exit(2)
    os.makedirs(destination, exist_ok=True)

    mode, suffix = MODES[args.compression]
    target = os.path.join(destination, time.strftime("backup-%Y%m%d-%H%M%S") + suffix)
    files = []
    for root, dirs, names in os.walk(data_dir):
        dirs[:] = [d for d in dirs if os.path.realpath(os.path.join(root, d)) != destination]
        files.extend(os.path.join(root, n) for n in names)
    print(f"Archiving {len(files)} files into {target}", flush=True)
    with tarfile.open(target, mode) as archive:
        for index, path in enumerate(files, 1):
            archive.add(path, arcname=os.path.relpath(path, data_dir), recursive=False)
            print(f"::progress {index * 100 // max(1, len(files))} {os.path.relpath(path, data_dir)}", flush=True)
    size = os.path.getsize(target)
    print(f"Wrote {size} bytes", flush=True)
    print("::result " + json.dumps({"archive": os.path.relpath(target, data_dir), "files": len(files), "bytes": size}), flush=True)


if __name__ == "__main__":
    main()
