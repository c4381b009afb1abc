package org.lstmk.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.lstmk.models.Npy;

/** {@code lstmk infer} on the PyTorch fixtures (models/src/test/fixtures/make_fixtures.py) against torch's outputs. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class InferCommandTest {
    @TempDir Path tmp;

    static Path fixture(String name) {
        return Path.of(System.getProperty("lstmk.fixtures", "../models/src/test/resources/fixtures/pytorch")).resolve(name);
    }

    /** rc, stdout, stderr of one run. */
    record Run(int rc, String out, String err) {}

    static Run infer(boolean terminal, String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        int rc = InferCommand.run(args, new PrintStream(o, true, StandardCharsets.UTF_8),
                new PrintStream(e, true, StandardCharsets.UTF_8), terminal);
        return new Run(rc, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    static Path kerasFixture(String name) { return fixture("../keras").resolve(name); }

    /** A Keras model (imported batch-major) reads [B,T,I] with --batch-first and [T,B,I] without. */
    @Test
    void kerasModelInEitherLayout() throws IOException {
        Npy.FloatArray x = Npy.readFloat32(kerasFixture("bi2.x.npy")), want = Npy.readFloat32(kerasFixture("bi2.y.npy"));
        for (String ext : List.of(".keras", ".weights.h5", ".h5")) {
            Path y = tmp.resolve("y.npy");
            Run r = infer(false, "--model", kerasFixture("bi2" + ext).toString(), "--input",
                    kerasFixture("bi2.x.npy").toString(), "--output", y.toString(), "--batch-first", "--batch", "2");
            assertEquals(0, r.rc(), ext + ": " + r.err());
            assertTrue(r.out().startsWith("model: Keras LSTM"), r.out());
            close(ext + " batch-first", want, Npy.readFloat32(y));

            Path xt = tmp.resolve("xt.npy"), yt = tmp.resolve("yt.npy");
            Npy.writeFloat32(xt, new long[] {x.dim(1), x.dim(0), x.dim(2)}, swap01(x.data(), x.dim(0), x.dim(1),
                    x.dim(2)));
            r = infer(false, "--model", kerasFixture("bi2" + ext).toString(), "--input", xt.toString(), "--output",
                    yt.toString());
            assertEquals(0, r.rc(), ext + ": " + r.err());
            Npy.FloatArray got = Npy.readFloat32(yt);
            int w = want.dim(2);
            Npy.FloatArray back = new Npy.FloatArray(new long[] {want.dim(0), want.dim(1), w},
                    swap01(got.data(), got.dim(0), got.dim(1), w));
            close(ext + " time-major", want, back);
        }
    }

    /** [A,B,C] to [B,A,C]. */
    private static float[] swap01(float[] a, int d0, int d1, int d2) {
        float[] t = new float[a.length];
        for (int i = 0; i < d0; i++) {
            for (int j = 0; j < d1; j++) System.arraycopy(a, (i * d1 + j) * d2, t, (j * d0 + i) * d2, d2);
        }
        return t;
    }

    @Test
    void bidirectionalTwoLayersMatchesTorch() throws IOException {
        // cuda-host: two engines (streams) sharing the packed weights take the batches in turns when there are
        // several batches (batch 1 and 3 of 4 sequences), as on a GPU
        for (String backend : List.of("reference", "simd", "cuda-host")) {
            for (boolean packed : List.of(false, true)) {
                for (String batch : List.of("1", "3", "64")) {
                    Path y = tmp.resolve("y.npy"), h = tmp.resolve("h.npy"), c = tmp.resolve("c.npy");
                    List<String> args = new ArrayList<>(List.of("--model", fixture("bi2.safetensors").toString(),
                            "--input", fixture("bi2.x.npy").toString(), "--output", y.toString(),
                            "--final-state", h + "," + c, "--backend", backend, "--batch", batch));
                    if (packed) args.addAll(List.of("--lengths", fixture("bi2.lengths.npy").toString()));
                    Run r = infer(false, args.toArray(String[]::new));
                    String what = backend + (packed ? " with lengths" : "") + " batch " + batch;
                    assertEquals(0, r.rc(), what + ": " + r.err());
                    String pre = packed ? "bi2.packed." : "bi2.";
                    close(what + " y", Npy.readFloat32(fixture(pre + "y.npy")), Npy.readFloat32(y));
                    close(what + " h_n", Npy.readFloat32(fixture(pre + "h_n.npy")), Npy.readFloat32(h));
                    close(what + " c_n", Npy.readFloat32(fixture(pre + "c_n.npy")), Npy.readFloat32(c));
                    List<String> lines = r.out().lines().toList();
                    assertEquals(2, lines.size(), "model line and one summary line: " + r.out());
                    assertTrue(lines.get(0).startsWith("model: PyTorch nn.LSTM") && lines.get(0).contains("2 layers, bidirectional"),
                            lines.get(0));
                    assertTrue(lines.get(1).contains("4 sequences") && lines.get(1).contains("sequences/s")
                            && lines.get(1).contains("backend " + backend), lines.get(1));
                    assertEquals(backend.equals("cuda-host") && !batch.equals("64"), lines.get(1).contains("on 2 streams"),
                            lines.get(1));
                    assertEquals("", r.err().replaceAll("(?m)^.*(INFO|Dispatcher).*\\R?", ""), "no progress bar off a terminal");
                }
            }
        }
    }

    @Test
    void batchFirstPrefixedModel() throws IOException {
        Path y = tmp.resolve("y.npy");
        Run r = infer(true, "--model", fixture("prefixed.safetensors").toString(), "--input",
                fixture("prefixed.x.npy").toString(), "--output", y.toString(), "--batch-first", "--batch", "2",
                "--lengths", fixture("prefixed.lengths32.npy").toString());
        assertEquals(0, r.rc(), r.err());
        close("prefixed", Npy.readFloat32(fixture("prefixed.packed.y.npy")), Npy.readFloat32(y));
        assertTrue(r.err().contains("4/4 sequences") && r.err().contains("sequences/s") && r.err().contains("["),
                "a progress bar on a terminal: " + r.err());
        // The two-LSTM file needs a name.
        r = infer(false, "--model", fixture("two_lstms.safetensors").toString(), "--input",
                fixture("two_lstms.x.npy").toString(), "--output", y.toString());
        assertEquals(1, r.rc());
        assertTrue(r.err().contains("name the one to load"), r.err());
        r = infer(false, "--model", fixture("two_lstms.safetensors").toString(), "--name", "decoder", "--input",
                fixture("two_lstms.x.npy").toString(), "--output", y.toString());
        assertEquals(0, r.rc(), r.err());
        close("two_lstms", Npy.readFloat32(fixture("two_lstms.y.npy")), Npy.readFloat32(y));
    }

    @Test
    void badInputGetsOneLineAndNoOutput() throws IOException {
        byte[] x = Files.readAllBytes(fixture("bi2.x.npy"));
        Path truncated = write("trunc.npy", Arrays.copyOf(x, x.length - 7));
        Path notNpy = write("text.npy", "just text".getBytes(StandardCharsets.US_ASCII));
        Path f64 = tmp.resolve("f64.npy");
        Npy.writeInt64(f64, new long[] {6, 4, 5}, new long[120]);
        Path wrongI = tmp.resolve("wrongI.npy");
        Npy.writeFloat32(wrongI, new long[] {6, 4, 3}, new float[72]);
        Path rank2 = tmp.resolve("rank2.npy");
        Npy.writeFloat32(rank2, new long[] {6, 20}, new float[120]);
        Path longLen = tmp.resolve("long.npy");
        Npy.writeInt64(longLen, new long[] {4}, new long[] {6, 7, 1, 1});
        Path zeroLen = tmp.resolve("zero.npy");
        Npy.writeInt32(zeroLen, new long[] {4}, new int[] {6, 0, 1, 1});
        Path fewLen = tmp.resolve("few.npy");
        Npy.writeInt64(fewLen, new long[] {3}, new long[] {6, 1, 1});
        Path floatLen = tmp.resolve("floatlen.npy");
        Npy.writeFloat32(floatLen, new long[] {4}, new float[] {6, 1, 1, 1});
        String model = fixture("bi2.safetensors").toString(), good = fixture("bi2.x.npy").toString();
        Path badModel = write("bad.safetensors", Arrays.copyOf(Files.readAllBytes(fixture("bi2.safetensors")), 300));

        expectBad("truncated", "--input", truncated.toString());
        expectBad("not a .npy file", "--input", notNpy.toString());
        expectBad("expected dtype float32", "--input", f64.toString());
        expectBad("has 3 features per step, the model takes 5", "--input", wrongI.toString());
        expectBad("expected a 3-dimensional array [T, B, I]", "--input", rank2.toString());
        expectBad("lengths[1] = 7 is outside [1, T=6]", "--input", good, "--lengths", longLen.toString());
        expectBad("lengths[1] = 0 is outside [1, T=6]", "--input", good, "--lengths", zeroLen.toString());
        expectBad("expected lengths of shape (4,)", "--input", good, "--lengths", fewLen.toString());
        expectBad("expected dtype int32 or int64", "--input", good, "--lengths", floatLen.toString());
        expectBad("no such file", "--input", tmp.resolve("missing.npy").toString());
        expectBad("truncated", "--input", good, "--model", badModel.toString());
        expectBad("unknown model format", "--input", good, "--model", good);
        expectBad("backend 'nonesuch'", "--input", good, "--backend", "nonesuch");
        expectBad("does not exist", "--input", good, "--final-state", y("h.npy") + "," + tmp.resolve("nowhere/c.npy"));
        expectBad("is a folder", "--input", good, "--output", tmp.toString());
        assertTrue(Files.exists(Path.of(model)));
    }

    private Path y(String name) {
        return tmp.resolve("out").resolve(name);
    }

    private void expectBad(String what, String... extra) throws IOException {
        Path y = y("y.npy");
        Files.createDirectories(y.getParent());
        List<String> args = new ArrayList<>(List.of("--model", fixture("bi2.safetensors").toString(), "--output",
                y.toString(), "--final-state", y.resolveSibling("h.npy") + "," + y.resolveSibling("c.npy")));
        for (int i = 0; i < extra.length; i += 2) {
            int at = args.indexOf(extra[i]);
            if (at >= 0) args.set(at + 1, extra[i + 1]); else args.addAll(List.of(extra[i], extra[i + 1]));
        }
        Run r = infer(false, args.toArray(String[]::new));
        assertTrue(r.rc() != 0, what + ": exit status " + r.rc());
        String err = r.err().replaceAll("(?m)^.*(INFO|Dispatcher).*\\R?", "");
        assertTrue(err.startsWith("lstmk infer: ") && err.contains(what), "expected '" + what + "': " + err);
        assertEquals(1, err.lines().count(), "one line: " + err);
        try (Stream<Path> s = Files.list(y.getParent())) {
            assertEquals(List.of(), s.toList(), what + ": no output, no temporary file");
        }
    }

    @Test
    void usageErrors() {
        for (String[] args : new String[][] {{}, {"--model"}, {"--model", "m", "--input", "x"},
                {"--model", "m", "--input", "x", "--output", "y", "--batch", "0"},
                {"--model", "m", "--input", "x", "--output", "y", "--final-state", "h.npy"},
                {"--model", "m", "--input", "x", "--output", "y", "--final-state", "y,c"},
                {"--model", "m", "--input", "x", "--output", "y", "--frobnicate"}}) {
            Run r = infer(false, args);
            assertEquals(2, r.rc(), String.join(" ", args));
            assertTrue(r.err().contains("usage: lstmk infer"), r.err());
        }
    }

    private Path write(String name, byte[] content) throws IOException {
        Path p = tmp.resolve(name);
        Files.write(p, content);
        return p;
    }

    private static void close(String what, Npy.FloatArray want, Npy.FloatArray got) {
        assertArrayEquals(want.shape(), got.shape(), what + " shape");
        double worst = 0;
        for (int i = 0; i < want.data().length; i++) {
            worst = Math.max(worst, Math.abs(got.data()[i] - want.data()[i]) / Math.max(Math.abs(want.data()[i]), 0.1));
        }
        assertTrue(worst <= 1e-5, what + ": relative error " + worst);
        assertFalse(Double.isNaN(worst));
    }
}
