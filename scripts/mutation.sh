#!/usr/bin/env bash
# Mutation testing of the rule-bearing modules (mutmut), one module at a time, niced.
#   scripts/mutation.sh                 every module below, one after the other
#   scripts/mutation.sh policy ipam     only those (names from the table below)
#   MUTATION_SAMPLE=40 scripts/mutation.sh x509trust
#                                       a random sample of 40 of the module's mutants (seed
#                                       MUTATION_SEED, 14 unless set), when a whole run is too slow
# Each run works in a scratch copy of src/ and tests/ (nothing is written into the tree) and
# prints "module: killed/total = score%"; the surviving mutants are listed (mutmut's names) so a
# test can be written for each.  The target is >= 90 % killed per module.  CPU heavy: the
# machine may be shared, so modules run one at a time under nice.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$ROOT/.venv/bin:$PATH"
command -v mutmut >/dev/null || { echo "mutmut missing: run scripts/setup.sh" >&2; exit 1; }

# name | module (under src/stratuslab) | the tests that must kill its mutants
MODULES="
states     | core/states.py                  | tests/unit/test_vm_state_machine.py
policy     | services/policy.py              | tests/unit/auth/test_policy.py tests/unit/auth/test_policy_rules.py
volrules   | services/storage/rules.py       | tests/unit/storage/test_volume_rules.py tests/unit/storage/test_volume_lifecycle_rules.py
ipam       | services/network/ipam.py        | tests/unit/network/test_ipam_rules.py tests/unit/network/test_ipam.py
xmldsig    | services/marketplace/xmldsig.py | tests/unit/marketplace/test_xmldsig_rules.py tests/unit/marketplace/test_signing.py tests/unit/marketplace/test_signature_refusals.py
mptrust    | services/marketplace/trust.py   | tests/unit/marketplace/test_trust_rules.py tests/unit/marketplace/test_signing.py tests/unit/marketplace/test_signature_refusals.py
x509trust  | services/auth/x509/trust.py     | tests/unit/auth/test_x509_trust_rules.py tests/unit/auth/test_certificates.py
proxy      | services/auth/x509/proxy.py     | tests/unit/auth/test_x509_proxy_rules.py tests/unit/auth/test_certificates.py tests/unit/auth/test_voms.py
jobs       | services/jobs.py                | tests/unit/test_job_runner_rules.py tests/unit/test_job_staleness.py tests/unit/test_compute_service.py
"

run_one() {
  local name=$1 module=$2 tests=$3
  local scratch
  scratch=$(mktemp -d /tmp/stratuslab-mutation-XXXXXX)
  trap 'rm -rf "$scratch"' RETURN
  cp -r src tests pyproject.toml "$scratch/"
  local selection
  selection=$(printf '"%s", ' $tests)
  cat >> "$scratch/pyproject.toml" <<CFG
only_mutate = ["src/stratuslab/$module"]
pytest_add_cli_args_test_selection = [${selection%, }]
CFG
  if [ -n "${MUTATION_SAMPLE:-}" ]; then
    sample_one "$name" "$module" "$scratch"
    return
  fi
  (cd "$scratch" && nice -n 15 mutmut run >"$scratch/run.log" 2>&1 || true
   mutmut export-cicd-stats >/dev/null 2>&1 || true
   python - "$name" "$module" <<'PY'
import json, sys
s = json.load(open("mutants/mutmut-cicd-stats.json"))
killed = s["killed"] + s["timeout"] + s["segfault"]
total = s["total"] - s["skipped"]
score = 100.0 * killed / total if total else 100.0
print(f"{sys.argv[1]} ({sys.argv[2]}): {killed}/{total} killed = {score:.0f}%"
      f" (survived {s['survived']}, no tests {s['no_tests']})")
PY
   mutmut results 2>/dev/null | grep -E "survived|no tests" | sed 's/^/    /' || true)
}

# mutants' names and states, one "name state" a line
states() { mutmut results --all true 2>/dev/null | sed -E 's/^ *//; s/: ([a-z ]+)$/ \1/'; }

sample_one() {
  local name=$1 module=$2 scratch=$3
  (cd "$scratch"
   nice -n 15 mutmut run --max-children 1 "no-such-mutant" >"$scratch/gen.log" 2>&1 || true
   states | cut -d' ' -f1 | python -c "
import random, sys
names = sorted(line.strip() for line in sys.stdin if line.strip())
random.seed(int('${MUTATION_SEED:-14}'))
print('\n'.join(random.sample(names, min(int('$MUTATION_SAMPLE'), len(names)))))" >sample.txt
   # shellcheck disable=SC2046
   nice -n 15 mutmut run --max-children 1 $(cat sample.txt) >"$scratch/run.log" 2>&1 || true
   states >states.txt
   python - "$name" "$module" <<'PY'
import collections, sys
sample = set(open("sample.txt").read().split())
rows = dict(line.split(" ", 1) for line in open("states.txt").read().splitlines() if " " in line)
picked = {n: s for n, s in rows.items() if n in sample}
c = collections.Counter(picked.values())
checked = sum(v for k, v in c.items() if k != "not checked")
killed = c["killed"] + c["timeout"] + c["segfault"]
score = 100.0 * killed / checked if checked else 100.0
print(f"{sys.argv[1]} ({sys.argv[2]}): sample of {checked} of {len(rows)} mutants: {killed} "
      f"killed = {score:.0f}% (survived {c['survived']}, no tests {c['no tests']}, "
      f"timeout {c['timeout']})")
for n, s in sorted(picked.items()):
    if s in ("survived", "no tests"):
        print(f"    {n}: {s}")
PY
  )
}

wanted=" $* "
echo "$MODULES" | while IFS='|' read -r name module tests; do
  name=$(echo "$name" | xargs); module=$(echo "$module" | xargs); tests=$(echo "$tests" | xargs)
  [ -n "$name" ] || continue
  if [ $# -gt 0 ] && [[ "$wanted" != *" $name "* ]]; then continue; fi
  run_one "$name" "$module" "$tests"
done
