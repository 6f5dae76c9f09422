from fipro.cli import main

raise SystemExit(main())
