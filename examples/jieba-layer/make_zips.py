"""Make this example's two Lambda packages, as the seed's author did by hand:

    build/jieba-layer.zip   python/jieba/...          (pip install --target python jieba)
    build/function.zip      lambda_function.py        (the handler alone)

jieba 0.42.1 is pure Python, so its sdist's `jieba/` folder is what `pip install --target`
installs; it is fetched from PyPI and checked against its pinned sha256. Standard library
only. Run: python3 make_zips.py
"""

import hashlib
import io
import os
import tarfile
import urllib.request
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(HERE, "build")
SDIST = "https://files.pythonhosted.org/packages/c6/cb/18eeb235f833b726522d7ebed54f2278ce28ba9438e3135ab0278d9792a2/jieba-0.42.1.tar.gz"
SHA256 = "055ca12f62674fafed09427f176506079bc135638a14e23e25be909131928db2"
# Fixed timestamps keep the ZIPs byte-identical from run to run.
EPOCH = (1980, 1, 1, 0, 0, 0)


def add(z, name, data, mode=0o644):
    info = zipfile.ZipInfo(name, EPOCH)
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, data)


def main():
    os.makedirs(BUILD, exist_ok=True)
    cached = os.path.join(BUILD, "jieba-0.42.1.tar.gz")
    if not os.path.exists(cached):
        with urllib.request.urlopen(SDIST, timeout=120) as r:
            data = r.read()
        if hashlib.sha256(data).hexdigest() != SHA256:
            raise SystemExit("jieba-0.42.1.tar.gz from PyPI does not match its pinned sha256")
        with open(cached + ".part", "wb") as f:
            f.write(data)
        os.replace(cached + ".part", cached)
    with open(cached, "rb") as f:
        sdist = f.read()

    layer = os.path.join(BUILD, "jieba-layer.zip")
    with tarfile.open(fileobj=io.BytesIO(sdist)) as tar, zipfile.ZipFile(layer + ".part", "w") as z:
        members = sorted(
            (m for m in tar.getmembers() if m.isfile() and m.name.startswith("jieba-0.42.1/jieba/")),
            key=lambda m: m.name,
        )
        for m in members:
            rel = m.name[len("jieba-0.42.1/"):]
            add(z, "python/" + rel, tar.extractfile(m).read())
    os.replace(layer + ".part", layer)

    function = os.path.join(BUILD, "function.zip")
    with zipfile.ZipFile(function + ".part", "w") as z:
        with open(os.path.join(HERE, "lambda_function.py"), "rb") as f:
            add(z, "lambda_function.py", f.read())
    os.replace(function + ".part", function)
    print(layer)
    print(function)


if __name__ == "__main__":
    main()
