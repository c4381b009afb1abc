package org.lstmk.bench.peers;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * oneDNN's LSTM primitive (Debian's {@code libdnnl.so.2}, oneDNN 2.x C API, OpenMP runtime) called through FFM
 * downcalls, as the C++ runner in the peers folder does it: f32, time-major {@code tnc}, zero initial state, the
 * weights given in {@code ldigo} (gates i, f, c, o: PyTorch's order, transposed) and reordered once into the
 * layout the primitive asks for ({@code format_tag::any}); bias {@code ldgo} = {@code bIh + bHh}. Threads: OpenMP's
 * {@code omp_set_num_threads(threads)} on the calling thread before each call (and {@code OMP_NUM_THREADS} from
 * the launcher). Training: {@code forward_training} + {@code backward} (weight gradients accumulate, as in the C++
 * runner; zeroed once).
 *
 * <p>Constants are those of oneDNN 2.6's {@code dnnl_types.h} (checked at open against {@code dnnl_version}: a
 * major version other than 2 makes this peer unavailable).
 */
public final class OneDnnPeer implements Peer {
    // dnnl_types.h (oneDNN 2.6)
    static final int F32 = 3, ANY = 1, TNC = 4, LDIGO = 7, LDGO = 5;
    static final int FORWARD_INFERENCE = 96, FORWARD_TRAINING = 64, BACKWARD = 128, L2R = 0, CPU = 1;
    static final int Q_DIFF_SRC = 130, Q_WEIGHTS = 131, Q_DIFF_WEIGHTS = 132, Q_DIFF_DST = 134, Q_WORKSPACE = 135;
    static final int ARG_SRC_LAYER = 1, ARG_WL = 33, ARG_WI = 34, ARG_BIAS = 41, ARG_DST_LAYER = 17, ARG_WORKSPACE = 64;
    static final int ARG_DIFF_SRC_LAYER = 129, ARG_DIFF_WL = 161, ARG_DIFF_WI = 162, ARG_DIFF_BIAS = 169,
            ARG_DIFF_DST_LAYER = 145, ARG_FROM = 1, ARG_TO = 17;
    static final long MD_SIZE = 696, RNN_DESC_SIZE = 15344;

    /** The library loaded: {@code -Dlstmk.peers.dnnl=...} (name or path), default Debian's {@code libdnnl.so.2}. */
    static final String LIBRARY = System.getProperty("lstmk.peers.dnnl", "libdnnl.so.2");

    private static Api api;
    private static String why;

    @Override
    public String name() {
        return "onednn";
    }

    @Override
    public boolean supportsTraining() {
        return true;
    }

    @Override
    public synchronized String unavailable() {
        if (api == null && why == null) {
            try {
                api = new Api();
            } catch (Throwable e) {
                why = "oneDNN (" + LIBRARY + ", Debian libdnnl2) not loadable: " + e.getMessage()
                        + " (bench/results/run-peers.sh installs libdnnl-dev)";
            }
        }
        return why;
    }

    /** The downcalls. */
    static final class Api {
        final MethodHandle engineCreate, streamCreate, mdInit, lstmFwd, lstmBwd, pdCreate, pdQuery, memCreate,
                mdSize, reorderPd, primCreate, execute, streamWait, primDestroy, pdDestroy, memDestroy, streamDestroy,
                engineDestroy, ompSetThreads, version;

        Api() {
            Linker l = Linker.nativeLinker();
            SymbolLookup d = SymbolLookup.libraryLookup(LIBRARY, Arena.global());
            SymbolLookup omp = SymbolLookup.libraryLookup("libgomp.so.1", Arena.global());
            var A = ADDRESS;
            version = l.downcallHandle(d.findOrThrow("dnnl_version"), FunctionDescriptor.of(A));
            engineCreate = h(l, d, "dnnl_engine_create", A, JAVA_INT, JAVA_LONG);
            streamCreate = h(l, d, "dnnl_stream_create", A, A, JAVA_INT);
            mdInit = h(l, d, "dnnl_memory_desc_init_by_tag", A, JAVA_INT, A, JAVA_INT, JAVA_INT);
            lstmFwd = h(l, d, "dnnl_lstm_forward_desc_init", A, JAVA_INT, JAVA_INT, A, A, A, A, A, A, A, A, A, JAVA_INT);
            lstmBwd = h(l, d, "dnnl_lstm_backward_desc_init", A, JAVA_INT, JAVA_INT, A, A, A, A, A, A, A, A, A, A, A,
                    A, A, A, A, A, A, A, JAVA_INT);
            pdCreate = h(l, d, "dnnl_primitive_desc_create", A, A, A, A, A);
            pdQuery = l.downcallHandle(d.findOrThrow("dnnl_primitive_desc_query_md"),
                    FunctionDescriptor.of(A.withTargetLayout(java.lang.foreign.MemoryLayout.sequenceLayout(MD_SIZE,
                            java.lang.foreign.ValueLayout.JAVA_BYTE)), A, JAVA_INT, JAVA_INT));
            memCreate = h(l, d, "dnnl_memory_create", A, A, A, A);
            mdSize = l.downcallHandle(d.findOrThrow("dnnl_memory_desc_get_size"), FunctionDescriptor.of(JAVA_LONG, A));
            reorderPd = h(l, d, "dnnl_reorder_primitive_desc_create", A, A, A, A, A, A);
            primCreate = h(l, d, "dnnl_primitive_create", A, A);
            execute = h(l, d, "dnnl_primitive_execute", A, A, JAVA_INT, A);
            streamWait = h(l, d, "dnnl_stream_wait", A);
            primDestroy = h(l, d, "dnnl_primitive_destroy", A);
            pdDestroy = h(l, d, "dnnl_primitive_desc_destroy", A);
            memDestroy = h(l, d, "dnnl_memory_destroy", A);
            streamDestroy = h(l, d, "dnnl_stream_destroy", A);
            engineDestroy = h(l, d, "dnnl_engine_destroy", A);
            ompSetThreads = l.downcallHandle(omp.findOrThrow("omp_set_num_threads"),
                    FunctionDescriptor.ofVoid(JAVA_INT));
            try {
                MemorySegment v = ((MemorySegment) version.invokeExact()).reinterpret(16);
                int major = v.get(JAVA_INT, 0);
                if (major != 2) throw new IllegalStateException("oneDNN " + major + ".x: this peer speaks the 2.x C API");
            } catch (RuntimeException e) {
                throw e;
            } catch (Throwable e) {
                throw new IllegalStateException(e);
            }
        }

        private static MethodHandle h(Linker l, SymbolLookup d, String name, java.lang.foreign.MemoryLayout... args) {
            return l.downcallHandle(d.findOrThrow(name), FunctionDescriptor.of(JAVA_INT, args));
        }
    }

    static void check(int s, String what) {
        if (s != 0) throw new IllegalStateException(what + ": dnnl status " + s);
    }

    @Override
    public Runner open(Problem p, int threads) throws Throwable {
        String no = unavailable();
        if (no != null) throw new IllegalStateException(no);
        return new DnnlRunner(api, p, threads);
    }

    /** One problem's primitives and memories. */
    static final class DnnlRunner implements Runner {
        final Api a;
        final Problem p;
        final int threads;
        final Arena arena = Arena.ofShared();
        final MemorySegment engine, stream;
        final List<MemorySegment> mems = new ArrayList<>(), prims = new ArrayList<>(), pds = new ArrayList<>();
        final MemorySegment srcMd, dstMd, wlUserMd, wiUserMd, biasMd, wlAny, wiAny;
        final MemorySegment src, dst, bias, wlUser, wiUser, y;
        final MemorySegment fwd, fwdArgs;
        final int fwdNargs;
        MemorySegment trainFwd, trainFwdArgs, bwd, bwdArgs;
        int trainFwdNargs, bwdNargs;
        MemorySegment dsrcData;

        DnnlRunner(Api a, Problem p, int threads) throws Throwable {
            this.a = a;
            this.p = p;
            this.threads = threads;
            a.ompSetThreads.invokeExact(threads);
            int T = p.steps(), B = p.batch(), H = p.hidden(), I = p.input(), G = 4 * H;
            MemorySegment pp = arena.allocate(ADDRESS);
            check((int) a.engineCreate.invokeExact(pp, CPU, 0L), "dnnl_engine_create");
            engine = pp.get(ADDRESS, 0);
            check((int) a.streamCreate.invokeExact(pp, engine, 1), "dnnl_stream_create");
            stream = pp.get(ADDRESS, 0);
            srcMd = md(TNC, T, B, I);
            dstMd = md(TNC, T, B, H);
            wlUserMd = md(LDIGO, 1, 1, I, 4, H);
            wiUserMd = md(LDIGO, 1, 1, H, 4, H);
            biasMd = md(LDGO, 1, 1, 4, H);
            wlAny = md(ANY, 1, 1, I, 4, H);
            wiAny = md(ANY, 1, 1, H, 4, H);
            // user data: x, ldigo weights (= PyTorch's [4H, I] transposed), bias bIh + bHh
            float[] wl = new float[I * G], wi = new float[H * G], b = new float[G];
            for (int j = 0; j < G; j++) {
                for (int k = 0; k < I; k++) wl[k * G + j] = p.wIh()[j * I + k];
                for (int k = 0; k < H; k++) wi[k * G + j] = p.wHh()[j * H + k];
                b[j] = p.bIh()[j] + p.bHh()[j];
            }
            src = memory(srcMd, p.x());
            y = data(dstMd);
            dst = memory(dstMd, y);
            bias = memory(biasMd, b);
            wlUser = memory(wlUserMd, wl);
            wiUser = memory(wiUserMd, wi);
            MemorySegment fpd = lstmForwardPd(FORWARD_INFERENCE);
            MemorySegment wlm = reordered(wlUser, wlUserMd, query(fpd, Q_WEIGHTS, 0));
            MemorySegment wim = reordered(wiUser, wiUserMd, query(fpd, Q_WEIGHTS, 1));
            fwd = primitive(fpd);
            fwdArgs = args(ARG_SRC_LAYER, src, ARG_WL, wlm, ARG_WI, wim, ARG_BIAS, bias, ARG_DST_LAYER, dst);
            fwdNargs = 5;
        }

        /** A memory descriptor by tag. */
        MemorySegment md(int tag, long... dims) throws Throwable {
            MemorySegment m = arena.allocate(MD_SIZE, 64);
            MemorySegment d = arena.allocate(JAVA_LONG, 12);
            for (int i = 0; i < dims.length; i++) d.setAtIndex(JAVA_LONG, i, dims[i]);
            check((int) a.mdInit.invokeExact(m, dims.length, d, F32, tag), "dnnl_memory_desc_init_by_tag");
            return m;
        }

        MemorySegment data(MemorySegment md) throws Throwable {
            long n = (long) a.mdSize.invokeExact(md);
            return arena.allocate(Math.max(n, 4), 64);
        }

        MemorySegment memory(MemorySegment md, float[] v) throws Throwable {
            MemorySegment d = data(md);
            MemorySegment.copy(v, 0, d, JAVA_FLOAT, 0, v.length);
            return memory(md, d);
        }

        MemorySegment memory(MemorySegment md, MemorySegment data) throws Throwable {
            MemorySegment pp = arena.allocate(ADDRESS);
            check((int) a.memCreate.invokeExact(pp, md, engine, data), "dnnl_memory_create");
            MemorySegment m = pp.get(ADDRESS, 0);
            mems.add(m);
            return m;
        }

        MemorySegment query(MemorySegment pd, int what, int index) throws Throwable {
            MemorySegment r = (MemorySegment) a.pdQuery.invokeExact(pd, what, index);
            if (r.equals(MemorySegment.NULL)) throw new IllegalStateException("query " + what + " is empty");
            MemorySegment copy = arena.allocate(MD_SIZE, 64);
            copy.copyFrom(r);
            return copy;
        }

        MemorySegment pd(MemorySegment opDesc, MemorySegment hint) throws Throwable {
            MemorySegment pp = arena.allocate(ADDRESS);
            check((int) a.pdCreate.invokeExact(pp, opDesc, MemorySegment.NULL, engine, hint), "dnnl_primitive_desc_create");
            MemorySegment pd = pp.get(ADDRESS, 0);
            pds.add(pd);
            return pd;
        }

        MemorySegment primitive(MemorySegment pd) throws Throwable {
            MemorySegment pp = arena.allocate(ADDRESS);
            check((int) a.primCreate.invokeExact(pp, pd), "dnnl_primitive_create");
            MemorySegment prim = pp.get(ADDRESS, 0);
            prims.add(prim);
            return prim;
        }

        MemorySegment lstmForwardPd(int prop) throws Throwable {
            MemorySegment d = arena.allocate(RNN_DESC_SIZE, 64);
            MemorySegment N = MemorySegment.NULL;
            check((int) a.lstmFwd.invokeExact(d, prop, L2R, srcMd, N, N, wlAny, wiAny, biasMd, dstMd, N, N, 0),
                    "dnnl_lstm_forward_desc_init");
            return pd(d, MemorySegment.NULL);
        }

        /** {@code from} (described by fromMd) reordered into a new memory of {@code toMd}. */
        MemorySegment reordered(MemorySegment from, MemorySegment fromMd, MemorySegment toMd) throws Throwable {
            MemorySegment to = memory(toMd, data(toMd));
            MemorySegment pp = arena.allocate(ADDRESS);
            check((int) a.reorderPd.invokeExact(pp, fromMd, engine, toMd, engine, MemorySegment.NULL),
                    "dnnl_reorder_primitive_desc_create");
            MemorySegment rpd = pp.get(ADDRESS, 0);
            pds.add(rpd);
            MemorySegment r = primitive(rpd);
            exec(r, args(ARG_FROM, from, ARG_TO, to), 2);
            return to;
        }

        MemorySegment args(Object... kv) {
            MemorySegment s = arena.allocate(16L * (kv.length / 2), 8);
            for (int i = 0; i < kv.length / 2; i++) {
                s.set(JAVA_INT, 16L * i, (Integer) kv[2 * i]);
                s.set(ADDRESS, 16L * i + 8, (MemorySegment) kv[2 * i + 1]);
            }
            return s;
        }

        void exec(MemorySegment prim, MemorySegment args, int n) throws Throwable {
            check((int) a.execute.invokeExact(prim, stream, n, args), "dnnl_primitive_execute");
            check((int) a.streamWait.invokeExact(stream), "dnnl_stream_wait");
        }

        @Override
        public void run() throws Throwable {
            a.ompSetThreads.invokeExact(threads);
            exec(fwd, fwdArgs, fwdNargs);
        }

        @Override
        public void train() throws Throwable {
            a.ompSetThreads.invokeExact(threads);
            if (bwd == null) buildTraining();
            exec(trainFwd, trainFwdArgs, trainFwdNargs);
            check((int) a.execute.invokeExact(bwd, stream, bwdNargs, bwdArgs), "dnnl_primitive_execute");
            check((int) a.streamWait.invokeExact(stream), "dnnl_stream_wait");
        }

        private void buildTraining() throws Throwable {
            int H = p.hidden(), I = p.input();
            MemorySegment fpd = lstmForwardPd(FORWARD_TRAINING);
            MemorySegment wlm = reordered(wlUser, wlUserMd, query(fpd, Q_WEIGHTS, 0));
            MemorySegment wim = reordered(wiUser, wiUserMd, query(fpd, Q_WEIGHTS, 1));
            MemorySegment wsMd = query(fpd, Q_WORKSPACE, 0);
            MemorySegment ws = memory(wsMd, data(wsMd));
            trainFwd = primitive(fpd);
            trainFwdArgs = args(ARG_SRC_LAYER, src, ARG_WL, wlm, ARG_WI, wim, ARG_BIAS, bias, ARG_DST_LAYER, dst,
                    ARG_WORKSPACE, ws);
            trainFwdNargs = 6;
            MemorySegment d = arena.allocate(RNN_DESC_SIZE, 64);
            MemorySegment N = MemorySegment.NULL;
            MemorySegment wlAnyB = md(ANY, 1, 1, I, 4, H), wiAnyB = md(ANY, 1, 1, H, 4, H);
            MemorySegment dwlAny = md(ANY, 1, 1, I, 4, H), dwiAny = md(ANY, 1, 1, H, 4, H);
            check((int) a.lstmBwd.invokeExact(d, BACKWARD, L2R, srcMd, N, N, wlAnyB, wiAnyB, biasMd, dstMd, N, N,
                    srcMd, N, N, dwlAny, dwiAny, biasMd, dstMd, N, N, 0), "dnnl_lstm_backward_desc_init");
            MemorySegment bpd = pd(d, fpd);
            MemorySegment bwl = reordered(wlUser, wlUserMd, query(bpd, Q_WEIGHTS, 0));
            MemorySegment bwi = reordered(wiUser, wiUserMd, query(bpd, Q_WEIGHTS, 1));
            MemorySegment dsrcMd = query(bpd, Q_DIFF_SRC, 0), ddstMd = query(bpd, Q_DIFF_DST, 0);
            MemorySegment dwlMd = query(bpd, Q_DIFF_WEIGHTS, 0), dwiMd = query(bpd, Q_DIFF_WEIGHTS, 1);
            dsrcData = data(dsrcMd);
            MemorySegment dsrc = memory(dsrcMd, dsrcData);
            MemorySegment ddstData = data(ddstMd);
            MemorySegment ddst = memory(ddstMd, ddstData);
            // dy in the layout the primitive asks for: reorder from tnc
            MemorySegment dyUser = memory(dstMd, p.dy());
            ddst = reorderInto(dyUser, dstMd, ddst, ddstMd);
            MemorySegment dwl = memory(dwlMd, data(dwlMd)), dwi = memory(dwiMd, data(dwiMd));
            MemorySegment dbias = memory(biasMd, data(biasMd));
            bwd = primitive(bpd);
            bwdArgs = args(ARG_SRC_LAYER, src, ARG_WL, bwl, ARG_WI, bwi, ARG_BIAS, bias, ARG_DST_LAYER, dst,
                    ARG_WORKSPACE, ws, ARG_DIFF_SRC_LAYER, dsrc, ARG_DIFF_WL, dwl, ARG_DIFF_WI, dwi,
                    ARG_DIFF_BIAS, dbias, ARG_DIFF_DST_LAYER, ddst);
            bwdNargs = 11;
        }

        private MemorySegment reorderInto(MemorySegment from, MemorySegment fromMd, MemorySegment to,
                MemorySegment toMd) throws Throwable {
            MemorySegment pp = arena.allocate(ADDRESS);
            check((int) a.reorderPd.invokeExact(pp, fromMd, engine, toMd, engine, MemorySegment.NULL),
                    "dnnl_reorder_primitive_desc_create");
            MemorySegment rpd = pp.get(ADDRESS, 0);
            pds.add(rpd);
            exec(primitive(rpd), args(ARG_FROM, from, ARG_TO, to), 2);
            return to;
        }

        /** {@code dx}: diff_src_layer was asked for in {@code tnc}, as x. */
        @Override
        public float[] inputGradient() {
            return dsrcData.asSlice(0, 4L * p.steps() * p.batch() * p.input()).toArray(JAVA_FLOAT);
        }

        @Override
        public float[] output() {
            return y.asSlice(0, 4L * p.steps() * p.batch() * p.hidden()).toArray(JAVA_FLOAT);
        }

        @Override
        public void close() throws Exception {
            try {
                destroy();
            } catch (Exception | Error e) {
                throw e;
            } catch (Throwable e) {
                throw new Exception(e);
            }
        }

        private void destroy() throws Throwable {
            for (MemorySegment m : prims) check((int) a.primDestroy.invokeExact(m), "dnnl_primitive_destroy");
            for (MemorySegment m : pds) check((int) a.pdDestroy.invokeExact(m), "dnnl_primitive_desc_destroy");
            for (MemorySegment m : mems) check((int) a.memDestroy.invokeExact(m), "dnnl_memory_destroy");
            check((int) a.streamDestroy.invokeExact(stream), "dnnl_stream_destroy");
            check((int) a.engineDestroy.invokeExact(engine), "dnnl_engine_destroy");
            arena.close();
        }
    }
}
