package org.lstmk.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.MatmulPrecision;
import org.lstmk.api.PackedWeights;
import org.lstmk.spi.Availability;
import org.lstmk.verify.RandomData;

/**
 * Times sequence-forward inference of the CUDA backend on DeepBench-like shapes ({@code I = H}, zero initial state),
 * two ways: <b>device</b> time of the kernels alone (input projection + T fused steps, inputs already on the GPU),
 * measured with CUDA events, which is what cuDNN's time is compared with; and <b>end-to-end</b> time of
 * {@link Lstm#forward} from host memory (uploads, kernels, downloads), wall clock, three ways: ordinary native memory
 * (copies staged, overlapped with the kernels), {@link Lstm#allocateHost} memory (pinned: direct copies) and ordinary
 * memory with the overlap turned off (the serial host path). Prints one tab-separated
 * line per shape; bench/gpu/report.py joins it with JMH and cuDNN.
 *
 * <pre>java -cp ... org.lstmk.cuda.GpuTiming [--device cuda|host] [--shapes 512x16x100,...] [--reps 20] [--warmup 3]</pre>
 *
 * {@code --device host} runs the same code on the host build (for checking the tool without a GPU; its times mean
 * nothing). Exit code 3 when the requested device is not usable.
 */
public final class GpuTiming {
    private GpuTiming() {}

    /** Header of the output. */
    public static final String HEADER = "shape\thidden\tbatch\tsteps\tdevice_ms_median\tdevice_ms_min\te2e_ms_median"
            + "\tgflop\tdevice_tflops\tgraph_ms_median\ttf32_graph_ms_median\tpersistent_ms_median\tbf16_graph_ms_median"
            + "\te2e_pinned_ms_median\te2e_serial_ms_median";

    public static void main(String[] args) {
        String device = "cuda";
        List<String> shapes = List.of("512x1x100", "512x16x100", "512x64x100", "1024x1x100", "1024x16x100",
                "1024x64x100", "2048x1x100", "2048x16x100", "2048x64x100", "1024x64x50", "1024x64x200");
        int reps = 20, warmup = 3;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--device" -> device = args[++i];
                case "--shapes" -> shapes = Arrays.asList(args[++i].split(","));
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (usage: [--device cuda|host] [--shapes HxBxT,...] [--reps N] [--warmup N])");
            }
        }
        int rc = run(device, shapes, reps, warmup, System.out);
        if (rc != 0) System.exit(rc);
    }

    /** Runs the timing; returns the exit code. */
    static int run(String device, List<String> shapes, int reps, int warmup, PrintStream out) {
        boolean gpu = device.equals("cuda");
        Availability a = gpu ? new CudaProvider().availability() : new CudaHostProvider().availability();
        if (!a.usable()) {
            System.err.println("GpuTiming: " + device + " is not usable: " + a.detail());
            return 3;
        }
        out.println("# " + a.detail());
        out.println(HEADER);
        for (String shape : shapes) out.println(time(gpu, shape.trim(), reps, warmup));
        return 0;
    }

    private static String time(boolean gpu, String shape, int reps, int warmup) {
        String[] p = shape.split("x");
        int hid = Integer.parseInt(p[0]), batch = Integer.parseInt(p[1]), steps = Integer.parseInt(p[2]);
        LstmConfig cfg = LstmConfig.of(hid, hid);
        RandomData rnd = new RandomData(7);
        LstmWeights weights = rnd.weights(cfg);
        float[] x = rnd.uniform(steps * batch * hid, 1);
        double[] device = deviceTimes(gpu, cfg, weights, x, steps, batch, reps, warmup, Path.STEPS);
        double[] graph = deviceTimes(gpu, cfg, weights, x, steps, batch, reps, warmup, Path.GRAPH);
        LstmConfig tf32 = cfg.toBuilder().matmulPrecision(MatmulPrecision.TF32).build();   // the projection on tensor cores
        double[] tf32Graph = deviceTimes(gpu, tf32, weights, x, steps, batch, reps, warmup, Path.GRAPH);
        double[] persistent = deviceTimes(gpu, cfg, weights, x, steps, batch, reps, warmup, Path.PERSISTENT);
        LstmConfig bf16 = cfg.toBuilder().matmulPrecision(MatmulPrecision.BF16).build();
        double[] bf16Graph = deviceTimes(gpu, bf16, weights, x, steps, batch, reps, warmup, Path.GRAPH);
        String backend = gpu ? CudaProvider.NAME : CudaHostProvider.NAME;
        double[] e2e = endToEndTimes(backend, cfg, weights, x, steps, batch, reps, warmup, HostPath.ORDINARY);
        double[] e2ePinned = endToEndTimes(backend, cfg, weights, x, steps, batch, reps, warmup, HostPath.PINNED);
        double[] e2eSerial = endToEndTimes(backend, cfg, weights, x, steps, batch, reps, warmup, HostPath.SERIAL);
        double gflop = 2.0 * steps * batch * 4 * hid * (2.0 * hid) / 1e9;
        double medianMs = median(device);
        return String.format(Locale.ROOT,
                "%s\t%d\t%d\t%d\t%.4f\t%.4f\t%.4f\t%.6g\t%.6g\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f",
                shape, hid, batch, steps, medianMs, Arrays.stream(device).min().orElse(0), median(e2e), gflop,
                gflop / medianMs, median(graph), median(tf32Graph), persistent.length == 0 ? Double.NaN : median(persistent),
                median(bf16Graph), median(e2ePinned), median(e2eSerial));
    }

    /** How the forward's launches are issued. */
    private enum Path {
        /** One launch per kernel. */
        STEPS,
        /** Recorded as one chain, replayed as a CUDA graph. */
        GRAPH,
        /** The projection, then every step in one persistent cooperative kernel (where the backend would). */
        PERSISTENT
    }

    /**
     * Kernel time per sequence: the device part of forward on inputs already on the device, issued as {@code path}
     * says; empty for the persistent path on a shape it does not take.
     */
    private static double[] deviceTimes(boolean gpu, LstmConfig cfg, LstmWeights weights, float[] x, int steps,
                                        int batch, int reps, int warmup, Path path) {
        Device dev = gpu ? JCudaDevice.open(0, KernelResources.bytes(KernelResources.FATBIN)) : new HostDevice();
        CudaBackend backend = new CudaBackend("timing", dev);
        int hid = cfg.hiddenSize();
        long bh = (long) batch * hid;
        try (CudaWeights w = (CudaWeights) backend.pack(cfg, weights);
             DeviceBuffer xd = dev.allocate((long) x.length * Float.BYTES);
             DeviceBuffer c = dev.allocate(bh * Float.BYTES);
             DeviceBuffer y = dev.allocate((long) steps * bh * Float.BYTES)) {
            dev.upload(MemorySegment.ofArray(x), xd, 0);
            CudaBackend.Sequence seq = CudaBackend.Sequence.uniform(cfg.layout(), steps, batch);
            if (path == Path.PERSISTENT && !backend.persistent(cfg, w, seq)) return new double[0];
            Runnable forward = () -> {
                dev.fillZero(c, 0, c.bytes());
                Runnable launches = () -> backend.forwardOnDevice(cfg, w, null, steps, batch, xd, null, c, y, null);
                switch (path) {
                    case STEPS -> launches.run();
                    case GRAPH -> dev.run(backend.record(launches));
                    case PERSISTENT -> backend.forwardPersistent(cfg, w, null, seq, xd, null, c, y, null);
                }
            };
            double[] ms = new double[reps];
            for (int i = -warmup; i < reps; i++) {
                double t;
                if (dev instanceof JCudaDevice j) {
                    t = j.time(forward);
                } else {
                    long t0 = System.nanoTime();
                    forward.run();
                    dev.synchronize();
                    t = (System.nanoTime() - t0) / 1e6;
                }
                if (i >= 0) ms[i] = t;
            }
            return ms;
        } finally {
            backend.close();
        }
    }

    /** Where an end-to-end call's host memory comes from, and whether its copies are overlapped. */
    private enum HostPath {
        /** Ordinary native memory (staged copies), overlapped with the kernels where the call is large enough. */
        ORDINARY,
        /** {@link Lstm#allocateHost} memory: pinned on a GPU, copied directly. */
        PINNED,
        /** Ordinary memory with {@code -Dlstmk.cuda.overlap=false}: copies whole, before and after the kernels. */
        SERIAL
    }

    /** Wall time per {@link Lstm#forward} call from host memory, as an application sees it. */
    private static double[] endToEndTimes(String backend, LstmConfig cfg, LstmWeights weights, float[] x, int steps,
                                          int batch, int reps, int warmup, HostPath path) {
        String overlap = System.getProperty(StepChunks.PROPERTY);
        if (path == HostPath.SERIAL) System.setProperty(StepChunks.PROPERTY, "false");
        try (Arena arena = Arena.ofShared();
             Lstm lstm = Lstm.builder(cfg).backend(backend).verify(false).build();
             PackedWeights w = lstm.pack(weights)) {
            long xBytes = (long) x.length * Float.BYTES, yBytes = (long) steps * batch * cfg.hiddenSize() * Float.BYTES;
            MemorySegment xs = path == HostPath.PINNED ? lstm.allocateHost(xBytes, arena) : arena.allocate(xBytes, 64);
            MemorySegment ys = path == HostPath.PINNED ? lstm.allocateHost(yBytes, arena) : arena.allocate(yBytes, 64);
            MemorySegment.copy(x, 0, xs, ValueLayout.JAVA_FLOAT, 0, x.length);
            List<Double> ms = new ArrayList<>();
            for (int i = -warmup; i < reps; i++) {
                long t0 = System.nanoTime();
                lstm.forward(w, steps, batch, xs, null, ys, null);
                if (i >= 0) ms.add((System.nanoTime() - t0) / 1e6);
            }
            return ms.stream().mapToDouble(Double::doubleValue).toArray();
        } finally {
            if (overlap == null) System.clearProperty(StepChunks.PROPERTY);
            else System.setProperty(StepChunks.PROPERTY, overlap);
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length == 0 ? 0 : s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
