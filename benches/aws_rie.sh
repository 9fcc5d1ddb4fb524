# Sourced by the benches: AWS's Runtime Interface Emulator as AWS ships it to SAM CLI users
# (the binary inside the aws-sam-cli wheel from PyPI, no dependencies), cached in $BENCH.
# Sets RIE_BIN.
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
