"""`python -m vectrain`: the same as the `vectrain` command."""

from vectrain.cli.main import main

if __name__ == "__main__":
    main()
