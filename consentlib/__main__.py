from consentlib.cli import main

raise SystemExit(main())
