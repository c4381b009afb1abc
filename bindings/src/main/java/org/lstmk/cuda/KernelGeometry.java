package org.lstmk.cuda;

import java.util.Properties;

/**
 * The tile shapes the kernels were compiled with, read from kernel-geometry.properties, which the build generates
 * from kernels-cuda/src/main/cuda/kernel_geometry.h: the launcher and the kernels cannot disagree.
 */
record KernelGeometry(Tile gemm, Tile forward, Tile forwardSmall, Tile backward, int colsumCols, int colsumThreads,
                      int packThreads) {

    /** A block tile: {@code m} rows (batch rows for the recurrent kernels) by {@code n} columns, {@code threads} threads. */
    record Tile(int m, int n, int threads) {}

    static KernelGeometry load() {
        Properties p = KernelResources.properties(KernelResources.GEOMETRY);
        if (p.isEmpty()) {
            throw new IllegalStateException(KernelResources.GEOMETRY + " is not on the class path (kernels-cuda jar missing?)");
        }
        return new KernelGeometry(
                new Tile(get(p, "GEMM_TILE_M"), get(p, "GEMM_TILE_N"), get(p, "GEMM_THREADS")),
                new Tile(get(p, "FWD_TILE_B"), get(p, "FWD_TILE_N"), get(p, "FWD_THREADS")),
                new Tile(get(p, "FWD_SMALL_TILE_B"), get(p, "FWD_TILE_N"), get(p, "FWD_SMALL_THREADS")),
                new Tile(get(p, "BWD_TILE_B"), get(p, "BWD_TILE_N"), get(p, "BWD_THREADS")),
                get(p, "COLSUM_COLS"), get(p, "COLSUM_THREADS"), get(p, "PACK_THREADS"));
    }

    private static int get(Properties p, String key) {
        String v = p.getProperty(key);
        if (v == null) throw new IllegalStateException(KernelResources.GEOMETRY + " lacks " + key);
        return Integer.parseInt(v.trim());
    }
}
