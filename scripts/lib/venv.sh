# Sourced by scripts/bootstrap, scripts/lint-template and scripts/sam-build:
# one way to make a pinned Python virtualenv that survives a flaky network.
#
#   ensure_venv <dir> <stamp> <label> <pip install arguments...>
#
# Rebuilds <dir> only when <stamp> (a digest of the pins) differs from the one
# recorded by the last successful build, so re-running is cheap. A package
# index that drops a connection mid-download (seen in CI: a 100 MB wheel cut
# at 45 MB six times in a row) is retried: pip resumes each download up to
# 20 times, and the whole install is tried 3 times, 15 s apart, before the
# script fails. The stamp is written last, so a failed build is redone next run.

ensure_venv() {
  local dir=$1 stamp=$2 label=$3
  shift 3
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.requirements.sha256" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  printf '==> creating the Python virtualenv %s (%s)\n' "${dir##*/}" "$label" >&2
  local attempt
  for attempt in 1 2 3; do
    rm -rf "$dir"
    if "${PYTHON:-python3}" -m venv "$dir" &&
      "$dir/bin/pip" install --quiet --disable-pip-version-check --retries 10 --timeout 60 --upgrade pip &&
      "$dir/bin/pip" install --quiet --disable-pip-version-check --retries 10 --timeout 60 \
        --resume-retries 20 "$@"; then
      echo "$stamp" > "$dir/.requirements.sha256"
      return 0
    fi
    if [ "$attempt" -lt 3 ]; then
      printf '==> pip install into %s failed (attempt %s of 3); retrying in 15 s\n' "${dir##*/}" "$attempt" >&2
      sleep 15
    fi
  done
  printf 'error: could not install %s into %s after 3 attempts (see pip'"'"'s messages above)\n' "$label" "$dir" >&2
  return 1
}

# The digest ensure_venv compares: of the given strings and files' contents.
pins_digest() {
  local arg
  for arg in "$@"; do
    if [ -f "$arg" ]; then cat "$arg"; else printf '%s\n' "$arg"; fi
  done | sha256sum | cut -d' ' -f1
}
