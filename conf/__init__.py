"""strata's config tree, shipped as a package so an installed `strata` finds it (pkg://strata.conf)."""
