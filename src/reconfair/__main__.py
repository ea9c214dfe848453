"""``python -m reconfair`` is the ``reconfair`` command."""

from reconfair.cli import main

if __name__ == "__main__":
    main()
