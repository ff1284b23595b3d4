"""Policy finds the person (政策找人): department extracts joined into households, and discovery over them."""
