#!/usr/bin/env python3
"""Write a deterministic tree of about SIZE_MB MiB into DIR: mixed compressible text and random bytes.

    gen_tree.py DIR SIZE_MB [SEED] [big]

Same arguments, same bytes (random.Random with a fixed seed; no timestamps are relied on —
layer writers normalise mtimes). About 60% of the bytes are word-salad text (gzip -1 shrinks
it to roughly a third), 40% are random bytes (incompressible). File sizes are mixed: many small
files (1–64 KiB) in nested folders plus one large one (1–8 MiB) in 200, like a real function bundle.
With "big", every file is 64 MiB (same text/random mix), so the file count stays small as the
size grows (to tell memory per byte from memory per file). A file DIR/.gen-stamp records the arguments, so rerunning with the same ones is a no-op.
"""

import os
import random
import sys

WORDS = (
    "lambda handler event context request response json body status headers import def return "
    "class self none true false value key list dict error exception logging info debug warning "
    "python runtime layer image digest manifest config archive gzip tar sha256 bytes stream "
    "buffer file folder path module package version build cache store invoke timeout memory"
).split()


def text_chunk(rng, n):
    out = []
    size = 0
    while size < n:
        line = " ".join(rng.choices(WORDS, k=rng.randint(4, 14)))
        line += " %d\n" % rng.randint(0, 1 << 20)
        out.append(line)
        size += len(line)
    return "".join(out).encode()[:n]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    root, size_mb = sys.argv[1], int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 42
    big_only = len(sys.argv) > 4 and sys.argv[4] == "big"
    stamp = os.path.join(root, ".gen-stamp")
    want = f"{size_mb} {seed} v2{' big' if big_only else ''}\n"
    if os.path.exists(stamp) and open(stamp).read() == want:
        return
    if os.path.exists(root) and os.listdir(root):
        sys.exit(f"{root} exists with other contents; remove it first")
    os.makedirs(root, exist_ok=True)
    rng = random.Random(seed)
    total = size_mb << 20
    # A pool of text reused with random offsets keeps generation fast (~hundreds of MB/s)
    # while staying compressible like source code, not trivially repetitive.
    pool = text_chunk(rng, 8 << 20)
    written = 0
    i = 0
    while written < total:
        big = i % 200 == 0
        if big_only:
            n = 64 << 20
        else:
            n = rng.randint(1 << 20, 8 << 20) if big else rng.randint(1 << 10, 64 << 10)
        n = min(n, total - written)
        if rng.random() < 0.6:
            if n < len(pool):
                off = rng.randrange(0, len(pool) - n)
                data = pool[off : off + n]
            else:  # big files: the pool repeated (its period is far beyond gzip's 32 KiB window)
                data = (pool * (n // len(pool) + 1))[:n]
            # Sprinkle in fresh words so no two files share long identical runs.
            data = text_chunk(rng, min(256, n)) + data[min(256, n) :]
            name = f"f{i:06d}.py"
        else:
            data = rng.randbytes(n)
            name = f"f{i:06d}.bin"
        d = os.path.join(root, f"d{i % 37:02d}", f"s{(i // 37) % 11:02d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        written += n
        i += 1
    with open(stamp, "w") as f:
        f.write(want)
    print(f"{root}: {i} files, {written >> 20} MiB", file=sys.stderr)


if __name__ == "__main__":
    main()
