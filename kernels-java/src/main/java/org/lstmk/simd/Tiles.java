package org.lstmk.simd;

/**
 * Splitting of rows and unit blocks: into balanced register tiles (B = 16 becomes 6 + 5 + 5 rather than
 * 6 + 6 + 4) and into contiguous shares per thread.
 */
final class Tiles {
    private Tiles() {}

    /** Rows of the largest register tile. */
    static final int MAX_ROWS = 6;
    /** Bytes of a row of a thread's tile buffer: up to 16 vectors (4 unit blocks). */
    static final long TILE_ROW_BYTES = 16 * SimdSpecies.VB;
    /** Bytes of one tile. */
    static final long TILE_BYTES = MAX_ROWS * TILE_ROW_BYTES;
    /** Tiles of one step a thread can keep while it waits for the others (see {@code ForwardPass}). */
    static final int MAX_PENDING = 4;
    /** The tile slot for work that is not pending: another thread's item, or a step that does not wait. */
    static final int SPARE_SLOT = MAX_PENDING;
    /** The tile slot where a further partial product of a split step is computed before it is added. */
    static final int PART_SLOT = MAX_PENDING + 1;
    /** Tile slots per thread: the pending ones, the spare one and the part one. */
    static final int SLOTS = MAX_PENDING + 2;
    /** Bytes of a thread's tile buffer. */
    static final long THREAD_TILE_BYTES = SLOTS * TILE_BYTES;

    /** Number of tiles of at most {@code max} rows covering {@code n} rows. */
    static int count(int n, int max) {
        return (n + max - 1) / max;
    }

    /** Rows of tile {@code i} of {@link #count} balanced tiles over {@code n} rows; the first tiles are the larger. */
    static int size(int n, int count, int i) {
        return n / count + (i < n % count ? 1 : 0);
    }

    /** Rows of the largest of the {@link #count} balanced tiles over {@code n} rows; 0 for none. */
    static int widest(int n, int max) {
        return n <= 0 ? 0 : size(n, count(n, max), 0);
    }

    /** Start of share {@code p} of {@code parts} contiguous, balanced shares of {@code n} items. */
    static int share(int n, int parts, int p) {
        return (int) ((long) n * p / parts);
    }
}
