package org.lstmk.simd;

/**
 * Splitting of rows and unit blocks: into balanced register tiles (B = 16 becomes 6 + 5 + 5 rather than
 * 6 + 6 + 4) and into contiguous shares per thread.
 */
final class Tiles {
    private Tiles() {}

    /** Number of tiles of at most {@code max} rows covering {@code n} rows. */
    static int count(int n, int max) {
        return (n + max - 1) / max;
    }

    /** Rows of tile {@code i} of {@link #count} balanced tiles over {@code n} rows; the first tiles are the larger. */
    static int size(int n, int count, int i) {
        return n / count + (i < n % count ? 1 : 0);
    }

    /** Start of share {@code p} of {@code parts} contiguous, balanced shares of {@code n} items. */
    static int share(int n, int parts, int p) {
        return (int) ((long) n * p / parts);
    }
}
