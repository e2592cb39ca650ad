from traceglass.cli import main

raise SystemExit(main())
