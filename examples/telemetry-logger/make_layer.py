"""Pack `layer/` as this example's Lambda layer, build/extension.zip:

    extensions/telemetry-logger   (mode 0755: Lambda starts every executable in /opt/extensions)

Fixed timestamps keep the ZIP byte-identical from run to run. Standard library only.
Run: python3 make_layer.py
"""

import os
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
EPOCH = (1980, 1, 1, 0, 0, 0)


def main():
    os.makedirs(os.path.join(HERE, "build"), exist_ok=True)
    out = os.path.join(HERE, "build", "extension.zip")
    root = os.path.join(HERE, "layer")
    with zipfile.ZipFile(out + ".tmp", "w") as z:
        for folder, _, files in sorted(os.walk(root)):
            for name in sorted(files):
                path = os.path.join(folder, name)
                info = zipfile.ZipInfo(os.path.relpath(path, root), EPOCH)
                mode = 0o755 if os.access(path, os.X_OK) else 0o644
                info.external_attr = (0o100000 | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(path, "rb") as f:
                    z.writestr(info, f.read())
    os.replace(out + ".tmp", out)
    print(out)


if __name__ == "__main__":
    main()
