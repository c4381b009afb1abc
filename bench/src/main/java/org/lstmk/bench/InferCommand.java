package org.lstmk.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.lstmk.api.Layout;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmState;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.SequenceBatch;
import org.lstmk.models.LstmModel;
import org.lstmk.models.Models;
import org.lstmk.models.Npy;

/**
 * {@code lstmk infer --model FILE --input x.npy --output y.npy [--lengths len.npy] [--batch-first]
 * [--final-state h.npy,c.npy] [--backend NAME] [--batch N] [--name PREFIX]}: runs a trained model over a NumPy
 * array of sequences, {@code --batch} sequences per call, and writes PyTorch's outputs: {@code y [T,B,D·H_out]}
 * ({@code [B,T,·]} with {@code --batch-first}), and with {@code --final-state} {@code h_n [L·D,B,H_out]} and
 * {@code c_n [L·D,B,H]}. Lengths ({@code int32}/{@code int64} {@code [B]}) run the sequences as PyTorch's
 * {@code pack_padded_sequence} does: outputs past a length are 0.
 *
 * <p>Everything is read and checked before the engine runs, and every output is written to a temporary file in its
 * folder and renamed at the end: a bad input (not a .npy file, truncated, wrong dtype, a shape that does not fit the
 * model, a length out of range) gets one line on standard error, exit status 1, and no output file.
 */
final class InferCommand {
    private InferCommand() {}

    static final String USAGE = "usage: lstmk infer --model FILE --input x.npy --output y.npy [--lengths len.npy] "
            + "[--batch-first] [--final-state h.npy,c.npy] [--backend NAME] [--batch N] [--name PREFIX]";

    /** A user's mistake with the files: one line, exit 1. */
    static final class BadInput extends Exception {
        private static final long serialVersionUID = 1L;

        BadInput(String message) { super(message); }
    }

    static int run(String[] args) {
        java.io.Console console = System.console();
        return run(args, System.out, System.err, console != null && console.isTerminal());
    }

    static int run(String[] args, PrintStream out, PrintStream err, boolean terminal) {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            err.println("lstmk infer: " + e.getMessage());
            err.println(USAGE);
            return 2;
        }
        try {
            return infer(o, out, err, terminal);
        } catch (BadInput e) {
            err.println("lstmk infer: " + e.getMessage());
            return 1;
        } catch (NoSuchFileException e) {
            err.println("lstmk infer: " + e.getFile() + ": no such file");
            return 1;
        } catch (IOException e) {
            err.println("lstmk infer: " + oneLine(e.getMessage()));
            return 1;
        } catch (IllegalStateException | IllegalArgumentException e) {
            // An unknown or unusable forced backend, or a configuration it cannot run: one line, as lstmk's others.
            err.println("lstmk infer: " + oneLine(e.getMessage()));
            return 2;
        }
    }

    private static String oneLine(String s) {
        return s == null ? "I/O error" : s.lines().findFirst().orElse(s);
    }

    record Options(Path model, String name, Path input, Path output, Path lengths, boolean batchFirst, Path h, Path c,
                   String backend, int batch) {
        static Options parse(String[] args) {
            Path model = null, input = null, output = null, lengths = null, h = null, c = null;
            String name = null, backend = null;
            boolean batchFirst = false;
            int batch = 64;
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (a.equals("--batch-first")) {
                    batchFirst = true;
                    continue;
                }
                if (!List.of("--model", "--input", "--output", "--lengths", "--final-state", "--backend", "--batch",
                        "--name").contains(a)) {
                    throw new IllegalArgumentException("unknown option " + a);
                }
                if (i + 1 >= args.length) throw new IllegalArgumentException(a + " needs a value");
                String v = args[++i];
                switch (a) {
                    case "--model" -> model = Path.of(v);
                    case "--input" -> input = Path.of(v);
                    case "--output" -> output = Path.of(v);
                    case "--lengths" -> lengths = Path.of(v);
                    case "--backend" -> backend = v;
                    case "--name" -> name = v;
                    case "--final-state" -> {
                        String[] p = v.split(",", -1);
                        if (p.length != 2 || p[0].isEmpty() || p[1].isEmpty()) {
                            throw new IllegalArgumentException("--final-state needs two files, h.npy,c.npy; got " + v);
                        }
                        h = Path.of(p[0]);
                        c = Path.of(p[1]);
                    }
                    case "--batch" -> {
                        try {
                            batch = Integer.parseInt(v);
                        } catch (NumberFormatException e) {
                            batch = 0;
                        }
                        if (batch < 1) throw new IllegalArgumentException("--batch needs a positive number, got " + v);
                    }
                    default -> throw new AssertionError(a);
                }
            }
            if (model == null) throw new IllegalArgumentException("--model is required");
            if (input == null) throw new IllegalArgumentException("--input is required");
            if (output == null) throw new IllegalArgumentException("--output is required");
            List<Path> outs = new ArrayList<>(List.of(output.toAbsolutePath().normalize()));
            if (h != null) {
                outs.add(h.toAbsolutePath().normalize());
                outs.add(c.toAbsolutePath().normalize());
            }
            if (outs.stream().distinct().count() != outs.size()) {
                throw new IllegalArgumentException("--output and --final-state must name different files");
            }
            return new Options(model, name, input, output, lengths, batchFirst, h, c, backend, batch);
        }
    }

    private static int infer(Options o, PrintStream out, PrintStream err, boolean terminal)
            throws IOException, BadInput {
        for (Path p : o.h() == null ? List.of(o.output()) : List.of(o.output(), o.h(), o.c())) {
            Path dir = p.toAbsolutePath().getParent();
            if (dir == null || !Files.isDirectory(dir)) throw new BadInput(p + ": folder " + dir + " does not exist");
            if (Files.isDirectory(p)) throw new BadInput(p + ": is a folder, not a file to write");
        }
        LstmModel model = Models.load(o.model(), o.name());
        // The input's layout is the flag's, whatever the importer chose (Keras models come batch-major).
        model = model.withLayout(o.batchFirst() ? Layout.BATCH_MAJOR : Layout.TIME_MAJOR);
        LstmConfig cfg = model.config();
        out.println("model: " + model.describe());

        Npy.FloatArray x = Npy.readFloat32(o.input());
        if (x.rank() != 3) {
            throw new BadInput(o.input() + ": expected a 3-dimensional array " + (o.batchFirst() ? "[B, T, I]" : "[T, B, I]")
                    + ", got shape " + shape(x.shape()));
        }
        int t = o.batchFirst() ? x.dim(1) : x.dim(0), b = o.batchFirst() ? x.dim(0) : x.dim(1), in = x.dim(2);
        if (in != cfg.inputSize()) {
            throw new BadInput(o.input() + ": shape " + shape(x.shape()) + " has " + in + " features per step, the model "
                    + "takes " + cfg.inputSize());
        }
        if (t == 0 || b == 0) throw new BadInput(o.input() + ": shape " + shape(x.shape()) + " holds no sequence step");
        int[] lengths = o.lengths() == null ? null : lengths(o.lengths(), b, t);

        int hOut = cfg.outputSize(), yw = cfg.sequenceOutputSize(), sl = cfg.stateLayers();
        long yn = (long) t * b * yw;
        if (yn > Integer.MAX_VALUE - 8) throw new BadInput(o.input() + ": the output would have " + yn + " elements, too many");
        float[] y = new float[(int) yn];
        float[] h = new float[sl * b * hOut], c = new float[sl * b * cfg.hiddenSize()];

        Lstm.Builder builder = Lstm.builder(cfg);
        if (o.backend() != null) builder.backend(o.backend());
        int chunk = Math.min(o.batch(), b);
        Progress progress = new Progress(err, terminal, b);
        String backend;
        long start;
        int lanesUsed;
        try (Lstm lstm = builder.build(); PackedWeights w = lstm.pack(model.weights())) {
            backend = lstm.backendName();
            // On a GPU, two engines (each its own stream) share the packed weights on the device and take the batches
            // in turns from two threads, so that one batch's copies overlap the other's kernels. A CPU backend already
            // spreads each call over every core: one lane.
            int lanes = backend.startsWith("cuda") && b > chunk ? 2 : 1;
            lanesUsed = lanes;
            List<Lstm> engines = new ArrayList<>(List.of(lstm));
            try {
                for (int k = 1; k < lanes; k++) engines.add(Lstm.builder(cfg).backend(backend).build());
                start = System.nanoTime();   // the forward calls only: not the engines' start or the packing
                runLanes(engines, new Work(w, o.batchFirst(), x.data(), y, h, c, lengths, t, b, chunk, in, cfg,
                        progress, start));
            } finally {
                for (int k = 1; k < engines.size(); k++) engines.get(k).close();
            }
        }
        double secs = (System.nanoTime() - start) / 1e9;
        progress.done();

        long[] yShape = o.batchFirst() ? new long[] {b, t, yw} : new long[] {t, b, yw};
        List<Path> written = new ArrayList<>();
        boolean ok = false;
        try {
            Npy.writeFloat32(o.output(), yShape, y);
            written.add(o.output());
            if (o.h() != null) {
                Npy.writeFloat32(o.h(), new long[] {sl, b, hOut}, h);
                written.add(o.h());
                Npy.writeFloat32(o.c(), new long[] {sl, b, cfg.hiddenSize()}, c);
                written.add(o.c());
            }
            ok = true;
        } finally {
            if (!ok) for (Path p : written) Files.deleteIfExists(p);   // all outputs or none
        }
        out.printf(Locale.ROOT, "infer: %d sequences (T=%d%s) in %.3f s, %.1f sequences/s, backend %s, batch %d%s; wrote %s %s%s%n",
                b, t, lengths == null ? "" : ", packed by lengths", secs, b / Math.max(secs, 1e-9), backend, chunk,
                lanesUsed > 1 ? " on " + lanesUsed + " streams" : "",
                o.output(), shape(yShape), o.h() == null ? "" : " and final state " + o.h() + ", " + o.c());
        return 0;
    }

    /** What every lane reads (the packed weights, the whole input) and writes (disjoint parts of y, h and c). */
    private record Work(PackedWeights w, boolean batchFirst, float[] x, float[] y, float[] h, float[] c, int[] lengths,
                        int t, int b, int chunk, int in, LstmConfig cfg, Progress progress, long start) {}

    /**
     * Lane {@code lane} of {@code lanes}: chunks {@code lane, lane + lanes, ...} of {@code chunk} sequences on
     * {@code lstm}, each gathered into the lane's own buffers and its results scattered into its parts of y, h and c.
     */
    private static void runLane(Work j, Lstm lstm, int lane, int lanes) {
        LstmConfig cfg = j.cfg();
        int t = j.t(), chunk = j.chunk();
        int yw = cfg.sequenceOutputSize(), sl = cfg.stateLayers(), hOut = cfg.outputSize(), hid = cfg.hiddenSize();
        float[] xc = new float[t * chunk * j.in()], yc = new float[t * chunk * yw];
        float[] hc = new float[sl * chunk * hOut], cc = new float[sl * chunk * hid];
        for (int b0 = lane * chunk; b0 < j.b(); b0 += lanes * chunk) {
            int n = Math.min(chunk, j.b() - b0);
            gather(j.x(), xc, j.batchFirst(), t, j.b(), b0, n, j.in());
            SequenceBatch seq = j.lengths() == null ? SequenceBatch.of(t, n)
                    : SequenceBatch.of(t, java.util.Arrays.copyOfRange(j.lengths(), b0, b0 + n));
            lstm.forward(j.w(), seq, MemorySegment.ofArray(xc), null, MemorySegment.ofArray(yc), LstmState.of(hc, cc));
            scatter(yc, j.y(), j.batchFirst(), t, j.b(), b0, n, yw);
            scatter(hc, j.h(), false, sl, j.b(), b0, n, hOut);
            scatter(cc, j.c(), false, sl, j.b(), b0, n, hid);
            j.progress().advance(n, System.nanoTime() - j.start());
        }
    }

    /** One lane per engine, the first on this thread; rethrows the first failure after all have stopped. */
    private static void runLanes(List<Lstm> engines, Work work) {
        int lanes = engines.size();
        if (lanes == 1) {
            runLane(work, engines.getFirst(), 0, 1);
            return;
        }
        List<Thread> threads = new ArrayList<>();
        Throwable[] failure = new Throwable[1];
        for (int k = 1; k < lanes; k++) {
            int lane = k;
            threads.add(Thread.ofPlatform().name("lstmk-infer-lane-" + k).start(() -> {
                try {
                    runLane(work, engines.get(lane), lane, lanes);
                } catch (Throwable e) {
                    synchronized (failure) {
                        if (failure[0] == null) failure[0] = e;
                    }
                }
            }));
        }
        try {
            runLane(work, engines.getFirst(), 0, lanes);
        } catch (RuntimeException | Error e) {
            synchronized (failure) {
                if (failure[0] == null) failure[0] = e; else failure[0].addSuppressed(e);
            }
        }
        for (Thread th : threads) {
            boolean interrupted = false;
            while (true) {
                try {
                    th.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
        }
        synchronized (failure) {
            if (failure[0] instanceof RuntimeException r) throw r;
            if (failure[0] instanceof Error e) throw e;
            if (failure[0] != null) throw new IllegalStateException(failure[0]);
        }
    }

    private static int[] lengths(Path file, int b, int t) throws IOException, BadInput {
        Npy.IntArray l = Npy.readIntegers(file);
        if (l.rank() != 1 || l.shape()[0] != b) {
            throw new BadInput(file + ": expected lengths of shape (" + b + ",), one per sequence of the input, got "
                    + shape(l.shape()));
        }
        int[] out = new int[b];
        for (int i = 0; i < b; i++) {
            long v = l.data()[i];
            if (v < 1 || v > t) {
                throw new BadInput(file + ": lengths[" + i + "] = " + v + " is outside [1, T=" + t + "]");
            }
            out[i] = (int) v;
        }
        return out;
    }

    /** Copies sequences {@code b0 .. b0+n} of {@code src} ({@code [T,B,w]} or {@code [B,T,w]}) into {@code dst}. */
    static void gather(float[] src, float[] dst, boolean batchFirst, int t, int b, int b0, int n, int w) {
        if (batchFirst) {
            System.arraycopy(src, b0 * t * w, dst, 0, n * t * w);
        } else {
            for (int s = 0; s < t; s++) System.arraycopy(src, (s * b + b0) * w, dst, s * n * w, n * w);
        }
    }

    /** The inverse of {@link #gather}: {@code src} holds {@code n} sequences, placed at {@code b0} of {@code dst}. */
    static void scatter(float[] src, float[] dst, boolean batchFirst, int rows, int b, int b0, int n, int w) {
        if (batchFirst) {
            System.arraycopy(src, 0, dst, b0 * rows * w, n * rows * w);
        } else {
            for (int s = 0; s < rows; s++) System.arraycopy(src, s * n * w, dst, (s * b + b0) * w, n * w);
        }
    }

    static String shape(long[] s) {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < s.length; i++) sb.append(i == 0 ? "" : ", ").append(s[i]);
        return sb.append(s.length == 1 ? ",)" : ")").toString();
    }

    /** A progress bar with sequences/s on a terminal; nothing otherwise (the summary line says it all). */
    static final class Progress {
        private final PrintStream err;
        private final boolean terminal;
        private final int total;
        private long lastDraw = -1;
        private int done;

        Progress(PrintStream err, boolean terminal, int total) {
            this.err = err;
            this.terminal = terminal;
            this.total = total;
        }

        /** {@code n} more sequences are done (from any lane's thread). */
        synchronized void advance(int n, long nanos) {
            done += n;
            update(done, nanos);
        }

        synchronized void update(int done, long nanos) {
            if (!terminal) return;
            if (done < total && lastDraw >= 0 && nanos - lastDraw < 100_000_000L) return;   // 10 redraws a second
            lastDraw = nanos;
            int width = 30, filled = (int) ((long) width * done / total);
            err.printf(Locale.ROOT, "\r[%s%s] %d/%d sequences  %.1f sequences/s", "#".repeat(filled),
                    ".".repeat(width - filled), done, total, done / Math.max(nanos / 1e9, 1e-9));
            err.flush();
        }

        void done() {
            if (terminal) err.println();
        }
    }
}
