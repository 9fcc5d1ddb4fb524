//! lamina's Lambda emulator core.
