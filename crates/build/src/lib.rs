//! lamina's image builder.
