//! OCI image model, deterministic layer writer, local store, OCI layout / docker-archive I/O.
