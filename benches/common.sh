# Sourced by the invoke benches. Sets RIE_BIN: AWS's Runtime Interface Emulator as AWS ships
# it to SAM CLI users (the binary inside the aws-sam-cli wheel from PyPI, no dependencies),
# cached in $BENCH. Defines wait_ready PORT.
RIE_BIN="$BENCH/aws-lambda-rie-x86_64"
if [ ! -x "$RIE_BIN" ]; then
  mkdir -p "$BENCH/sam"
  timeout 300 pip download -q --no-deps aws-sam-cli -d "$BENCH/sam"
  python3 - "$BENCH" <<'PY'
import glob, sys, zipfile
z = zipfile.ZipFile(sorted(glob.glob(sys.argv[1] + "/sam/aws_sam_cli-*.whl"))[-1])
open(sys.argv[1] + "/aws-lambda-rie-x86_64", "wb").write(z.read("samcli/local/rapid/aws-lambda-rie-x86_64"))
PY
  chmod +x "$RIE_BIN"
fi

wait_ready() { # PORT: until an invoke of the calculator answers 200 (bounded: 60 s)
  for _ in $(seq 120); do
    if curl -sf -m 5 -o /dev/null -XPOST "127.0.0.1:$1/2015-03-31/functions/function/invocations" \
      -d '{"queryStringParameters":{"num1":"6","num2":"3","operator":"divide"}}'; then return 0; fi
    sleep 0.5
  done
  echo "port $1 never answered" >&2
  return 1
}
