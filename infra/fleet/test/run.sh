#!/usr/bin/env bash
# Proves infra/fleet/ on loopback as infra/test/run.sh proves infra/: fmt, init from the local
# provider mirror, validate, then apply and destroy against a moto server and check with the aws
# CLI that the worker is what loadgen invokes and may do nothing but write its own log.
# What it needs: infra/test/lib.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fleet="$(dirname "$here")"
root="$(dirname "$(dirname "$fleet")")"
what="infra/fleet"
# shellcheck source=../../test/lib.sh
source "$root/infra/test/lib.sh"

echo "== terraform fmt -check"
terraform fmt -check -recursive -diff "$fleet"

stage "$fleet" fleet
zip="$root/dist/lambda/loadgen-worker.zip"
if [ ! -f "$zip" ]; then
  # The real artifact is built by scripts/build-lambda.sh; moto never runs it anyway.
  zip="$work/dummy.zip"
  dummy_zip "$zip"
fi

start_moto

cd "$work/fleet"
init_validate

vars=(-var "endpoint=$endpoint" -var "worker_zip=$zip" -var "reserved_concurrency=20")
echo "== terraform apply against moto"
terraform apply -input=false -auto-approve -no-color "${vars[@]}" > "$work/apply.log" || { tail -40 "$work/apply.log"; fail "apply"; }
tail -1 "$work/apply.log"
out=$(terraform output -json)
for k in fleet_function fleet_function_arn region memory_mb timeout_s reserved_concurrency; do
  [ "$(jq -r ".$k.value" <<<"$out")" != "null" ] || fail "output $k missing"
done
fn=$(jq -r .fleet_function.value <<<"$out")

echo "== checks"
check "function name (what --fleet-function defaults to)" "$fn" "loadgen-worker"
c=$(aws_ lambda get-function-configuration --function-name "$fn")
check "function runtime" "$(jq -r .Runtime <<<"$c")" "provided.al2023"
check "function handler" "$(jq -r .Handler <<<"$c")" "bootstrap"
check "function memory" "$(jq -r .MemorySize <<<"$c")" "2048"
check "function timeout" "$(jq -r .Timeout <<<"$c")" "900"
check "no environment" "$(jq -c '.Environment.Variables // {}' <<<"$c")" "{}"
check "reserved concurrency" "$(aws_ lambda get-function-concurrency --function-name "$fn" | jq -r .ReservedConcurrentExecutions)" "20"

role=$(jq -r '.Role | split("/") | last' <<<"$c")
policy=$(aws_ iam get-role-policy --role-name "$role" --policy-name "$role" | jq '.PolicyDocument | if type == "string" then fromjson else . end')
check "one statement" "$(jq '.Statement | length' <<<"$policy")" "1"
check "only its own log" "$(jq -c '[.Statement[] | .Action] | flatten | sort' <<<"$policy")" '["logs:CreateLogStream","logs:PutLogEvents"]'
check "log resource is its own group" "$(jq -r '.Statement[0].Resource' <<<"$policy")" "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/$fn:*"
check "no managed policy attached" "$(aws_ iam list-attached-role-policies --role-name "$role" | jq '.AttachedPolicies | length')" "0"

no_drift_then_destroy "${vars[@]}"
echo "infra/fleet test: passed"
