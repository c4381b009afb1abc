package org.lstmk.simd;

import static org.lstmk.simd.SimdSpecies.FLOAT;
import static org.lstmk.simd.SimdSpecies.L;
import static org.lstmk.simd.SimdSpecies.MAX_ACCUMULATORS;
import static org.lstmk.simd.SimdSpecies.ORDER;
import static org.lstmk.simd.SimdSpecies.VB;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;
import org.lstmk.api.Layout;
import org.lstmk.api.LstmGradients;

/**
 * One backward call (BPTT over the workspace of the last training forward) as the program of each worker. Worker
 * {@code p} owns the same unit blocks as in forward:
 * <ol>
 *   <li>copy its units of {@code dy} (and {@code dh_T, dc_T}) and its share of the rows of {@code x} in;</li>
 *   <li>the last step's cell backward from {@code dy + dh_T} alone; then for each earlier step a barrier (all of
 *       {@code da_t} is needed) per tile {@code dh = da_t·W_hhᵀ} for its own hidden columns
 *       ({@link #transposedTile}) and at once the cell backward of step {@code t−1} on that tile
 *       (the layer's {@link Cell}), which writes {@code da_{t−1}};</li>
 *   <li>after a last barrier: {@code dh_0 = da_0·W_hhᵀ} and {@code dc_0} for its units; the weight gradients of its
 *       own gate columns as GEMMs over all {@code T·B} rows ({@code dW_ihᵀ = xnᵀ·da}, {@code dW_hhᵀ = hᵀ·da},
 *       {@code da} packed in chunks of {@link #CHUNK} rows into contiguous panels), {@code db} as column sums; and
 *       {@code dx = da·W_ih} for its share of the rows.</li>
 * </ol>
 * With projection (LSTMP) step 2 has two phases per step ({@link #recurProjected}): {@code dh} over the thread's
 * share of the columns of h, a barrier, then {@code dm = dh·W_hr} over its units fused with the cell; step 3 adds
 * {@code dW_hr}. Peephole gradients are column sums after the loop, like {@code db}.
 * {@code da} is kept for every step (in the workspace) rather than recomputed: the weight gradients then are three
 * large, efficient GEMMs instead of T small ones.
 *
 * <p>A packed call ({@link Steps}) runs over its rows only: step {@code t} has {@code size(t)} rows, the gate rows
 * ({@code da}, {@code dy}, {@code dx}) are packed, and the input states lie at the row of their gates, so every
 * GEMM after the loop runs once over all {@code N} valid rows, as for a uniform call. In the loop the rows of the
 * sequences that go on to {@code t+1} get {@code dh} from {@code da_{t+1}}, while those that end at {@code t} still
 * hold the {@code dh_T, dc_T} copied in (no later step has touched their rows): each enters at its own last step.
 */
final class BackwardPass implements WorkerTeam.Job {
    /** Rows of {@code da} packed per weight-gradient panel (32 KiB at 16 floats per vector: fits L1). */
    static final int CHUNK = 128;
    /** Rows of a register tile when a tile column is one unit block (4 vectors). */
    static final int BLOCK_TILE_ROWS = MAX_ACCUMULATORS / 4;
    /** Unit blocks whose weight gradients are computed together (their dW slices, 2·I·4L floats each, in L2). */
    static final int GRADIENT_GROUP = 4;
    /** Rows of a register tile whose columns are single vectors. */
    static final int VECTOR_TILE_ROWS = 6;
    private static final VectorSpecies<Integer> INT = FLOAT.vectorShape().withLanes(int.class);

    /** Inputs and outputs of the call (caller buffers; null where not given or not wanted). */
    record Io(Layout layout, MemorySegment x, MemorySegment dy, MemorySegment dhT, MemorySegment dcT,
              MemorySegment dx, MemorySegment dh0, MemorySegment dc0, LstmGradients grads, boolean accumulate) {}

    /** The backend's scratch buffers for one call, each at least as large as the call needs. */
    record Scratch(MemorySegment xn, MemorySegment dyn, MemorySegment dh, MemorySegment dc, MemorySegment dm,
                   MemorySegment dxn, MemorySegment dWihT, MemorySegment dWhhT, MemorySegment db, MemorySegment dpeep,
                   MemorySegment dWhr, MemorySegment panels, MemorySegment tiles) {}

    private final SimdWeights w;
    private final Cell cell;
    private final GateLayout shape;
    private final Steps rows;
    private final int steps, batch, workers;
    private final Io io;
    private final Scratch sc;
    private final MemorySegment gates, hs, cs, ms, da;

    BackwardPass(SimdWeights w, SimdWorkspace ws, Steps rows, Io io, Scratch scratch, int workers) {
        this.w = w;
        this.cell = w.cell;
        this.shape = w.shape;
        this.rows = rows;
        this.steps = rows.steps;
        this.batch = rows.batch;
        this.io = io;
        this.sc = scratch;
        this.workers = workers;
        this.gates = ws.gates();
        this.hs = ws.hs();
        this.cs = ws.cs();
        this.ms = ws.ms();
        this.da = ws.da();
    }

    private int u0(int p) { return Tiles.share(shape.blocks(), workers, p); }

    private int u1(int p) { return Tiles.share(shape.blocks(), workers, p + 1); }

    private int r0(int p) { return Tiles.share(rows.rows(), workers, p); }

    /** First and end own block of columns of h (the unit blocks without projection). */
    private int v0(int p) { return Tiles.share(shape.outBlocks(), workers, p); }

    private int v1(int p) { return Tiles.share(shape.outBlocks(), workers, p + 1); }

    @Override
    public void copyIn(int p) {
        int hid = shape.hid(), out = shape.out(), in = shape.in(), n = rows.rows();
        int j0 = u0(p) * L, j1 = u1(p) * L, j1h = Math.min(j1, hid);
        int k0 = v0(p) * L, k1 = v1(p) * L, k1h = Math.min(k1, out);
        long hRow = shape.stateRowBytes(), oRow = shape.outRowBytes();
        if (io.dy() != null) {
            Copies.sequenceIn(io.dy(), io.layout(), steps, batch, out, 0, n, k0, k1h, sc.dyn(), oRow);
            // the padding columns too: the scratch is shared by every shape, and padded units must see exactly 0
            Copies.zeroColumns(sc.dyn(), n, oRow, Math.max(k0, out), k1);
        }
        if (io.grads() != null) Copies.sequenceIn(io.x(), io.layout(), steps, batch, in, r0(p), r0(p + 1), 0, in, sc.xn(), 4L * in);
        Copies.stateIn(io.dhT(), batch, out, k0, k1h, k1, sc.dh(), 0, oRow);
        Copies.stateIn(io.dcT(), batch, hid, j0, j1h, j1, sc.dc(), 0, hRow);
    }

    @Override
    public void copyOut(int p) {
        int hid = shape.hid(), out = shape.out(), in = shape.in();
        int j0 = u0(p) * L, j1h = Math.min(u1(p) * L, hid);
        int k0 = v0(p) * L, k1h = Math.min(v1(p) * L, out);
        Copies.stateOut(sc.dh(), 0, shape.outRowBytes(), batch, out, k0, k1h, io.dh0());
        Copies.stateOut(sc.dc(), 0, shape.stateRowBytes(), batch, hid, j0, j1h, io.dc0());
        LstmGradients g = io.grads();
        if (g != null) {
            GradientsOut.transposed(sc.dWihT(), shape, in, j0, j1h, g.dWih(), io.accumulate());
            GradientsOut.transposed(sc.dWhhT(), shape, out, j0, j1h, g.dWhh(), io.accumulate());
            if (g.dWhr() != null && shape.projection()) {
                GradientsOut.projection(sc.dWhr(), shape, j0, j1h, g.dWhr(), io.accumulate());
            }
            if (g.dbIh() != null) {
                GradientsOut.bias(sc.db(), shape, j0, j1h, g.dbIh(), io.accumulate());
                GradientsOut.bias(sc.db(), shape, j0, j1h, g.dbHh(), io.accumulate());
            }
            if (g.dPeepholes() != null) GradientsOut.peepholes(sc.dpeep(), shape, j0, j1h, g.dPeepholes(), io.accumulate());
        }
        if (io.dx() != null) {
            Copies.sequenceOut(sc.dxn(), 4L * shape.ip(), 0, io.layout(), steps, batch, in, r0(p), r0(p + 1), 0, in, io.dx());
        }
    }

    @Override
    public void compute(int p, SpinBarrier barrier) {
        int n = rows.rows();
        int u0 = u0(p), u1 = u1(p), v0 = v0(p), v1 = v1(p);
        int r0 = r0(p), r1 = r0(p + 1);
        long gRow = shape.gateRowBytes();
        BackwardStep s = new BackwardStep();
        s.da = da;
        s.gates = gates;
        s.cs = cs;
        s.dy = sc.dyn();
        s.dc = sc.dc();
        s.gRow = gRow;
        s.hRow = shape.stateRowBytes();
        s.hasDy = io.dy() != null;

        s.dh = sc.dh();
        s.tile = sc.tiles();
        s.tileBase = (long) p * Tiles.THREAD_TILE_BYTES;
        s.tileRow = Tiles.TILE_ROW_BYTES;

        if (shape.projection()) recurProjected(p, barrier, s, u0, u1, v0, v1);
        else recur(p, barrier, s, u0, u1);
        barrier.await(p);

        if (io.dh0() != null) multiply(da, 0, batch, gRow, w.whhT, v0, v1, shape.gates(), sc.dh(), shape.outRowBytes());
        if (io.grads() != null) weightGradients(p, u0, u1, n);
        if (io.dx() != null) multiply(da, r0, r1, gRow, w.wihT, 0, shape.ip() / L, shape.gates(), sc.dxn(), 4L * shape.ip());
    }

    /**
     * The time loop without projection: {@code dh} columns are the thread's own units, product and cell fused. Step
     * {@code t}'s rows come in two pieces (see {@link Steps}): the sequences that go on to step {@code t+1}, whose
     * {@code dh = da_{t+1}·W_hhᵀ}, and those that end at {@code t}, whose {@code dh} is still {@code dh_T} as
     * copied in (no step after t has touched their rows).
     */
    private void recur(int p, SpinBarrier barrier, BackwardStep s, int u0, int u1) {
        long hRow = shape.stateRowBytes(), gRow = shape.gateRowBytes();
        int k = shape.gates();
        int g0 = u0 / 4, g1 = (u1 + 3) / 4;
        for (int t = steps - 1; t >= 0; t--) {
            if (t < steps - 1) barrier.await(p); // all of da_{t+1}
            atStep(s, t);
            int size = rows.size(t), live = rows.size(t + 1);
            long aBase = (long) rows.offset(t + 1) * gRow;
            long liveBase = (long) rows.liveRow(t) * hRow, endBase = (long) rows.rows() * hRow;
            int widest = Math.max(Tiles.widest(live, VECTOR_TILE_ROWS), Tiles.widest(size - live, VECTOR_TILE_ROWS));
            int group = Math.max(1, Math.min(4, MAX_ACCUMULATORS / widest));
            boolean backwards = t < steps - 1 && ((t + 1) & 1) == 1; // as in ForwardPass: reuse what is still in L2
            for (int gi = g0; gi < g1; gi++) {
                int grp = backwards ? g0 + g1 - 1 - gi : gi, end = Math.min(u1, 4 * grp + 4);
                for (int u = Math.max(u0, 4 * grp), nv; u < end; u += nv) {
                    nv = tileWidth(u, end, group);
                    int tileRows = whole(nv) ? BLOCK_TILE_ROWS : VECTOR_TILE_ROWS;
                    int liveTiles = Tiles.count(live, tileRows), endTiles = Tiles.count(size - live, tileRows);
                    s.cBase = liveBase;
                    int r = 0;
                    for (int i = 0; i < liveTiles; i++) {
                        int mr = Tiles.size(live, liveTiles, i);
                        transposedTile(mr, nv, da, aBase + r * gRow, gRow, w.whhT, u, k, sc.dh(), r * hRow + u * VB, hRow);
                        backwardCell(s, mr, u, nv, r);
                        r += mr;
                    }
                    s.cBase = endBase;
                    for (int i = 0; i < endTiles; i++) {
                        int mr = Tiles.size(size - live, endTiles, i);
                        backwardCell(s, mr, u, nv, r);
                        r += mr;
                    }
                }
            }
        }
    }

    /**
     * The width of the tile of columns that starts at vector {@code v}, within {@code [v, end)} and within v's group
     * of four (the transposed panels' vector stride is constant only inside a group): the whole group when it is
     * there, for the {@code blocks} kernel (its four vectors at constant offsets in each row of the group's panel:
     * with 16 registers the {@code gemm} kernel's variable vector stride cost training 512×16×100, one thread,
     * -XX:UseAVX=2, 340 against 282 ms; at 512 bits the two were even), else at most {@code group} vectors.
     */
    private static int tileWidth(int v, int end, int group) {
        int inGroup = Math.min(4 - v % 4, end - v);
        return inGroup == 4 ? 4 : Math.min(group, inGroup);
    }

    /** Whether a tile {@code nv} vectors wide (from {@link #tileWidth}) is a whole group, for the blocks kernel. */
    private static boolean whole(int nv) { return nv == 4; }

    /**
     * {@code c = a·B} for {@code mr} rows of a (k contiguous) and column vectors {@code [v, v+nv)} of a transposed
     * weight panel ({@link SimdWeights#whhT} or {@link SimdWeights#wihT}), {@code nv} from {@link #tileWidth}.
     */
    private void transposedTile(int mr, int nv, MemorySegment a, long aOff, long aRow, MemorySegment b, int v, int k,
                                MemorySegment c, long cOff, long cRow) {
        long bOff = w.transposedVector(v);
        if (whole(nv)) MicroKernels.blocks(mr, 1, a, aOff, aRow, 4, b, bOff, 0, SimdWeights.TRANSPOSED_ROW, k, c, cOff, cRow);
        else MicroKernels.gemm(mr, nv, a, aOff, aRow, 4, b, bOff, VB, SimdWeights.TRANSPOSED_ROW, k, c, cOff, cRow);
    }

    /**
     * The time loop with projection (LSTMP). The gradient reaching {@code h_t} (P columns, shared out by blocks of
     * columns) and the one reaching {@code m_t} (H units, the thread's own) are different vectors, so each step has
     * two phases with a barrier between: {@code dh = da_{t+1}·W_hhᵀ + dy_t} for the own columns of h, kept in
     * {@code dyn} (for {@code dW_hr}); then {@code dm = dh·W_hr} for the own units, fused with the cell backward.
     */
    private void recurProjected(int p, SpinBarrier barrier, BackwardStep s, int u0, int u1, int v0, int v1) {
        s.dh = sc.dm();
        s.hasDy = false; // dy is in dm already
        long gRow = shape.gateRowBytes(), oRow = shape.outRowBytes();
        for (int t = steps - 1; t >= 0; t--) {
            if (t < steps - 1) {
                barrier.await(p); // all of da_{t+1}
                // the sequences that go on; those that end at t keep dh_T in their rows
                multiply(da, (long) rows.offset(t + 1) * gRow, rows.size(t + 1), gRow, w.whhT, v0, v1, shape.gates(),
                        sc.dh(), 0, oRow);
            }
            hiddenGradient(t, v0, v1); // + dy
            barrier.await(p); // all of dh_t
            cellStep(s, t, u0, u1);
        }
    }

    /**
     * {@code dyn[t] = dh + dy_t} (or {@code dh} without dy) for column blocks {@code [v0, v1)}: the whole gradient
     * reaching {@code h_t}, kept for the projection's weight gradient.
     */
    private void hiddenGradient(int t, int v0, int v1) {
        long oRow = shape.outRowBytes(), base = (long) rows.offset(t) * oRow;
        MemorySegment dyn = sc.dyn(), dh = sc.dh();
        boolean hasDy = io.dy() != null;
        for (int b = 0, size = rows.size(t); b < size; b++) {
            for (int v = v0; v < v1; v++) {
                long d = base + b * oRow + v * VB;
                FloatVector g = FloatVector.fromMemorySegment(FLOAT, dh, b * oRow + v * VB, ORDER);
                if (hasDy) g = g.add(FloatVector.fromMemorySegment(FLOAT, dyn, d, ORDER));
                g.intoMemorySegment(dyn, d, ORDER);
            }
        }
    }

    /**
     * Per tile of the own units: {@code dm = dyn[t]·W_hr} (K = P), then the cell backward of step {@code t}, run
     * twice on a tile that holds both sequences that go on and sequences that end at {@code t} (the cell reads
     * {@code c_t} where {@link Steps} put it).
     */
    private void cellStep(BackwardStep s, int t, int u0, int u1) {
        long hRow = shape.stateRowBytes(), oRow = shape.outRowBytes(), gRow = shape.gateRowBytes();
        long base = (long) rows.offset(t) * oRow;
        int size = rows.size(t), live = rows.size(t + 1);
        long liveBase = (long) rows.liveRow(t) * hRow, endBase = (long) rows.rows() * hRow;
        int tiles = Tiles.count(size, VECTOR_TILE_ROWS);
        int widest = Tiles.size(size, tiles, 0);
        int group = Math.max(1, Math.min(4, MAX_ACCUMULATORS / widest));
        atStep(s, t);
        for (int u = u0; u < u1; u += group) {
            int nv = Math.min(group, u1 - u);
            int r = 0;
            for (int i = 0; i < tiles; i++) {
                int mr = Tiles.size(size, tiles, i);
                MicroKernels.gemm(mr, nv, sc.dyn(), base + r * oRow, oRow, 4, w.whr, u * VB, VB, hRow, shape.out(),
                        sc.dm(), r * hRow + u * VB, hRow);
                int ends = Math.max(r, Math.min(live, r + mr));
                if (ends > r) {
                    s.cBase = liveBase;
                    backwardCell(s, ends - r, u, nv, r);
                }
                if (ends < r + mr) {
                    s.cBase = endBase;
                    backwardCell(s, r + mr - ends, u, nv, ends);
                }
                r += mr;
            }
        }
    }

    /**
     * The layer's backward cell on {@code rows} rows from row {@code r} of the step and unit blocks
     * {@code [u, u+nv)}; then, when those end with the last block and it has padding units, their {@code da} forced
     * to exactly 0.
     *
     * <p>Why: padding units have zero weights, so their pre-activations are {@code 0·x}, and an infinite input,
     * {@code h0} or projected {@code h} makes that {@code 0·∞ = NaN}; their states, and the {@code dh} that
     * {@code da·W_hhᵀ} gives them, can be NaN too. In forward nothing reads them (every product's K runs over the
     * real units of h or m only), but {@code da} is the A operand of products whose K runs over all {@code 4Hp} gate
     * columns ({@code dh = da·W_hhᵀ}, {@code dh0}, {@code dx = da·W_ih}), where a padding unit's NaN times its zero
     * weight would reach every real column of the row. Zeroing here, where {@code da} is produced, costs four
     * vector ANDs per row of the last block per step, outside the cell's loops, and nothing when H is a multiple of
     * L; an integer AND, as in {@code Activations.flushSubnormals}, rather than a blend.
     */
    private void backwardCell(BackwardStep s, int rows, int u, int nv, int r) {
        long gRow = shape.gateRowBytes();
        cell.backwardTile(s, rows, nv, r * gRow + u * 4 * VB, r * shape.stateRowBytes() + u * VB, u * 4 * VB);
        MemorySegment real = w.realLanes;
        if (real == null || u + nv != shape.blocks()) return;
        IntVector keep = IntVector.fromMemorySegment(INT, real, 0, ORDER);
        for (long o = s.daBase + r * gRow + (u + nv - 1) * 4 * VB, end = o + rows * gRow; o < end; o += gRow) {
            for (int gate = 0; gate < 4; gate++) {
                IntVector.fromMemorySegment(INT, da, o + gate * VB, ORDER).and(keep)
                        .intoMemorySegment(da, o + gate * VB, ORDER);
            }
        }
    }

    /**
     * Points the step bases at step {@code t} (whose cell backward the kernels end with); {@code s.cBase}, where
     * {@code c_t} lies, depends on the piece of rows and is set by the caller.
     */
    private void atStep(BackwardStep s, int t) {
        long stepRows = rows.offset(t);
        s.gBase = s.daBase = stepRows * s.gRow;
        s.cPrevBase = s.dyBase = stepRows * s.hRow;
    }

    /**
     * {@code c[r][v-block] = a[r]·B} for rows {@code [r0, r1)} of a (row stride {@code aRow}, k contiguous) and
     * column panels {@code [v0, v1)} of a transposed weight matrix ({@code [4Hp][L]} panels), into c (row stride
     * {@code cRow}).
     */
    private void multiply(MemorySegment a, int r0, int r1, long aRow, MemorySegment b, int v0, int v1, int k,
                          MemorySegment c, long cRow) {
        multiply(a, r0 * aRow, r1 - r0, aRow, b, v0, v1, k, c, r0 * cRow, cRow);
    }

    /** As {@link #multiply(MemorySegment, int, int, long, MemorySegment, int, int, int, MemorySegment, long)} for
     * {@code n} rows of a at {@code aBase} into rows of c at {@code cBase}. */
    private void multiply(MemorySegment a, long aBase, int n, long aRow, MemorySegment b, int v0, int v1, int k,
                          MemorySegment c, long cBase, long cRow) {
        if (n <= 0) return;
        int group = Math.max(1, Math.min(4, MAX_ACCUMULATORS / Tiles.widest(n, VECTOR_TILE_ROWS)));
        for (int v = v0, nv; v < v1; v += nv) {
            nv = tileWidth(v, v1, group);
            int tiles = Tiles.count(n, whole(nv) ? BLOCK_TILE_ROWS : VECTOR_TILE_ROWS);
            int r = 0;
            for (int i = 0; i < tiles; i++) {
                int mr = Tiles.size(n, tiles, i);
                transposedTile(mr, nv, a, aBase + r * aRow, aRow, b, v, k, c, cBase + r * cRow + v * VB, cRow);
                r += mr;
            }
        }
    }

    /** dW_ih, dW_hh and db for the gate columns of blocks {@code [u0, u1)}, transposed and interleaved. */
    private void weightGradients(int p, int u0, int u1, int n) {
        int in = shape.in(), out = shape.out();
        long gRow = shape.gateRowBytes(), oRow = shape.outRowBytes();
        MemorySegment panel = sc.panels();
        long panelBase = (long) p * CHUNK * 4 * VB;
        long tileBase = (long) p * Tiles.THREAD_TILE_BYTES;
        int inTiles = Tiles.count(in, BLOCK_TILE_ROWS), hidTiles = Tiles.count(out, BLOCK_TILE_ROWS);
        // Blocks in groups whose slice of dW stays in L2 while the chunks of rows go by, so that each chunk of
        // x and h (the A operand) is read once per group rather than once per block.
        for (int ug = u0; ug < u1; ug += GRADIENT_GROUP) {
            int ugEnd = Math.min(u1, ug + GRADIENT_GROUP);
            for (int rc = 0; rc < n; rc += CHUNK) {
                int kc = Math.min(CHUNK, n - rc);
                boolean first = rc == 0;
                for (int u = ug; u < ugEnd; u++) {
                    long col = u * 4 * VB;
                    for (int r = 0; r < kc; r++) {
                        MemorySegment.copy(da, (rc + r) * gRow + col, panel, panelBase + r * 4 * VB, 4 * VB);
                    }
                    int i = 0;
                    for (int t = 0; t < inTiles; t++) {
                        int mr = Tiles.size(in, inTiles, t);
                        gradientTile(first, mr, sc.xn(), (long) rc * 4 * in + 4L * i, 4L * in, panel, panelBase, kc,
                                sc.dWihT(), i * gRow + col, gRow, tileBase);
                        i += mr;
                    }
                    int j = 0;
                    for (int t = 0; t < hidTiles; t++) {
                        int mr = Tiles.size(out, hidTiles, t);
                        gradientTile(first, mr, hs, rc * oRow + 4L * j, oRow, panel, panelBase, kc,
                                sc.dWhhT(), j * gRow + col, gRow, tileBase);
                        j += mr;
                    }
                }
            }
        }
        for (int u = u0; u < u1; u++) biasGradient(u, n);
        if (io.grads().dPeepholes() != null) for (int u = u0; u < u1; u++) peepholeGradient(u, n);
        if (io.grads().dWhr() != null && shape.projection()) projectionGradient(u0, u1, n);
    }

    /**
     * {@code dW_hr[k][own units] = Σ_r dh_r[k]·m_r[units]} over all rows: {@code dh} is the whole gradient that
     * reached each h ({@code dyn}, see {@link #hiddenGradient}), {@code m} the forward's cell outputs (row
     * {@code r + B} of {@code ms}, packed calls too: see {@code ForwardPass}); into {@code dWhr [P][Hp]}. Own units
     * only, rows in order: no dependence on the number of threads.
     */
    private void projectionGradient(int u0, int u1, int n) {
        int out = shape.out();
        long hRow = shape.stateRowBytes(), oRow = shape.outRowBytes();
        int tiles = Tiles.count(out, VECTOR_TILE_ROWS);
        int widest = Tiles.size(out, tiles, 0);
        int group = Math.max(1, Math.min(4, MAX_ACCUMULATORS / widest));
        for (int u = u0; u < u1; u += group) {
            int nv = Math.min(group, u1 - u);
            int k = 0;
            for (int i = 0; i < tiles; i++) {
                int mr = Tiles.size(out, tiles, i);
                MicroKernels.gemm(mr, nv, sc.dyn(), 4L * k, 4, oRow, ms, (long) batch * hRow + u * VB, VB, hRow, n,
                        sc.dWhr(), k * hRow + u * VB, hRow);
                k += mr;
            }
        }
    }

    /**
     * The peephole gradients of block {@code u}: {@code dP_i = Σ da_i·c_{t−1}}, {@code dP_f = Σ da_f·c_{t−1}},
     * {@code dP_o = Σ da_o·c_t} over all rows, into the i, f and o columns of {@code dpeep}. Each block belongs to
     * one thread and its rows are summed in order, so the result depends neither on the number of threads nor on
     * their timing.
     */
    private void peepholeGradient(int u, int n) {
        long gRow = shape.gateRowBytes(), hRow = shape.stateRowBytes(), col = u * 4 * VB, unit = u * VB;
        FloatVector si = FloatVector.zero(FLOAT), sf = si, so = si;
        for (int t = 0, r = 0; t < steps; t++) {
            // c_t of the step's rows: at the next step's rows while a sequence goes on, at row N + b once it ends
            int size = rows.size(t), live = rows.size(t + 1), next = rows.liveRow(t);
            for (int b = 0; b < size; b++, r++) {
                long o = r * gRow + col, c = r * hRow + unit, cNext = (long) (b < live ? next + b : n + b) * hRow + unit;
                FloatVector cPrev = FloatVector.fromMemorySegment(FLOAT, cs, c, ORDER);
                si = FloatVector.fromMemorySegment(FLOAT, da, o, ORDER).fma(cPrev, si);
                sf = FloatVector.fromMemorySegment(FLOAT, da, o + VB, ORDER).fma(cPrev, sf);
                so = FloatVector.fromMemorySegment(FLOAT, da, o + 3 * VB, ORDER)
                        .fma(FloatVector.fromMemorySegment(FLOAT, cs, cNext, ORDER), so);
            }
        }
        si.intoMemorySegment(sc.dpeep(), col, ORDER);
        sf.intoMemorySegment(sc.dpeep(), col + VB, ORDER);
        so.intoMemorySegment(sc.dpeep(), col + 3 * VB, ORDER);
    }

    /** {@code db} for block {@code u}: the column sums of its four gate vectors of {@code da}. */
    private void biasGradient(int u, int n) {
        long gRow = shape.gateRowBytes(), col = u * 4 * VB;
        FloatVector s0 = FloatVector.zero(FLOAT), s1 = s0, s2 = s0, s3 = s0;
        for (int r = 0; r < n; r++) {
            long o = r * gRow + col;
            s0 = s0.add(FloatVector.fromMemorySegment(FLOAT, da, o, ORDER));
            s1 = s1.add(FloatVector.fromMemorySegment(FLOAT, da, o + VB, ORDER));
            s2 = s2.add(FloatVector.fromMemorySegment(FLOAT, da, o + 2 * VB, ORDER));
            s3 = s3.add(FloatVector.fromMemorySegment(FLOAT, da, o + 3 * VB, ORDER));
        }
        s0.intoMemorySegment(sc.db(), col, ORDER);
        s1.intoMemorySegment(sc.db(), col + VB, ORDER);
        s2.intoMemorySegment(sc.db(), col + 2 * VB, ORDER);
        s3.intoMemorySegment(sc.db(), col + 3 * VB, ORDER);
    }

    /**
     * Whether the weight gradient's tiles use the {@code blocks} kernel (B's four vectors at constant offsets) rather
     * than {@code gemm} (at a variable vector stride): with 16 vector registers (12 accumulators) the constant
     * offsets leave C2 the general registers it needs (training 512×16×100 one thread, -XX:UseAVX=2: 358–398 against
     * 484–494 ms), with 32 the gemm kernel was the faster (235–238 against 255–258 ms).
     */
    private static final boolean GRADIENT_BLOCKS = MAX_ACCUMULATORS < 24;

    /** {@code C = A·panel} for one unit block of the panel: see {@link #GRADIENT_BLOCKS}. */
    private static void gradientKernel(int mr, MemorySegment a, long aOff, long aStep, MemorySegment panel,
                                       long panelBase, int kc, MemorySegment c, long cOff, long cRow) {
        if (GRADIENT_BLOCKS) MicroKernels.blocks(mr, 1, a, aOff, 4, aStep, panel, panelBase, 0, 4 * VB, kc, c, cOff, cRow);
        else MicroKernels.gemm(mr, 4, a, aOff, 4, aStep, panel, panelBase, VB, 4 * VB, kc, c, cOff, cRow);
    }

    /**
     * {@code C[mr rows][4 vectors] (+)= Aᵀ·panel} for one chunk of rows: A element (m, k) at
     * {@code aOff + 4m + k·aStep}; the first chunk overwrites C, later ones go through this thread's tile and are
     * added.
     */
    private void gradientTile(boolean first, int mr, MemorySegment a, long aOff, long aStep, MemorySegment panel,
                              long panelBase, int kc, MemorySegment c, long cOff, long cRow, long tileBase) {
        if (first) {
            gradientKernel(mr, a, aOff, aStep, panel, panelBase, kc, c, cOff, cRow);
            return;
        }
        MemorySegment tile = sc.tiles();
        gradientKernel(mr, a, aOff, aStep, panel, panelBase, kc, tile, tileBase, Tiles.TILE_ROW_BYTES);
        for (int m = 0; m < mr; m++) {
            for (int n = 0; n < 4; n++) {
                long o = cOff + m * cRow + n * VB;
                FloatVector.fromMemorySegment(FLOAT, c, o, ORDER)
                        .add(FloatVector.fromMemorySegment(FLOAT, tile, tileBase + m * Tiles.TILE_ROW_BYTES + n * VB, ORDER))
                        .intoMemorySegment(c, o, ORDER);
            }
        }
    }
}
