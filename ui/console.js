// The mkube console (placeholder).
