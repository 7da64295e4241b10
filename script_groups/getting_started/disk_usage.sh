#!/usr/bin/env bash
# ScriptsManager Metadata:
# @description: Shows how much space the project's data directory uses
# @description_es: Muestra cuánto espacio usa el directorio de datos del proyecto
# @description_it: Mostra quanto spazio usa la directory dei dati del progetto
# @description_fr: Affiche l'espace utilisé par le répertoire de données du projet
# @required_level: operator
# @category: examples
# @tags: demo,shell,disk
# @parameters: [
#   {"name": "depth", "type": "integer", "min": 0, "max": 3, "default": 1,
#    "description": {"en": "Folder depth to report", "es": "Profundidad de carpetas", "it": "Profondità delle cartelle", "fr": "Profondeur des dossiers"}},
#   {"name": "human", "type": "boolean", "default": true,
#    "description": {"en": "Human-readable sizes", "es": "Tamaños legibles", "it": "Dimensioni leggibili", "fr": "Tailles lisibles"}}
# ]
# @execution_timeout: 60
set -euo pipefail

data_dir="."
depth=1
human=true
# Standard arguments and parameters arrive as "--name value"; unknown ones are ignored.
while [ $# -gt 0 ]; do
  case "$1" in
    --data-dir) data_dir="${2:-.}"; shift 2 ;;
    --depth) depth="${2:-1}"; shift 2 ;;
    --human) human="${2:-true}"; shift 2 ;;
    --*) if [ $# -gt 1 ] && [ "${2#--}" = "$2" ]; then shift 2; else shift; fi ;;
    *) shift ;;
  esac
done

case "$depth" in [0-3]) ;; *) echo "depth must be 0 to 3" >&2; exit 2 ;; esac
mkdir -p "$data_dir"
echo "::progress 10 measuring $data_dir"
flags=(-d "$depth")
[ "$human" = "true" ] && flags+=(-h)
du "${flags[@]}" "$data_dir" | sort -k2
total_kb=$(du -sk "$data_dir" | cut -f1)
echo "::progress 100 done"
echo "::result {\"total_kb\": $total_kb}"
