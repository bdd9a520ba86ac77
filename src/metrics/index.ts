/** Placeholder: lands with issue 12. */
export {};
