"""Text to program: parse `.pte` files with the lark grammar, validate them, print them back."""
