package org.lstmk.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.lstmk.api.Layout;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.StackWeights;

/**
 * Every Keras fixture (src/test/fixtures/make_keras_fixtures.py), imported from its .keras, .weights.h5 and legacy .h5
 * file, reproduces Keras' own output of the LSTM stack, on the reference and SIMD backends; the models Keras saved
 * with settings this library does not compute are refused by name.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class KerasFixturesTest {
    /** f32 end to end (Keras on the torch backend computes in float): a few ulps over T = 6 and 2 layers. */
    static final double TOLERANCE = 1e-5;

    static final String[] NAMES = {"lstm1", "stacked2", "bi2", "nobias"};
    static final String[] FILES = {".keras", ".weights.h5", ".h5"};

    static Path dir() { return Fixtures.dir("keras"); }

    static Path file(String name) { return dir().resolve(name); }

    static JsonObject info(String name) throws IOException { return Fixtures.info("keras", name); }

    static Stream<Arguments> cases() {
        List<Arguments> a = new ArrayList<>();
        for (String name : NAMES) {
            for (String ext : FILES) {
                for (String backend : List.of("reference", "simd")) a.add(Arguments.of(name, ext, backend));
            }
        }
        return a.stream();
    }

    @ParameterizedTest(name = "{0}{1} on {2}")
    @MethodSource("cases")
    void reproducesKeras(String name, String ext, String backend) throws IOException {
        LstmModel m = Models.load(file(name + ext), null);
        double err = error(m, name, backend);
        assertTrue(err <= TOLERANCE, name + ext + " on " + backend + ": relative error " + Fixtures.fmt(err) + " > "
                + TOLERANCE);
    }

    /** Keras' output of the stack: y [B,T,D·H] when the last layer returns sequences, else the final h [B,D·H]. */
    static double error(LstmModel m, String name, String backend) throws IOException {
        Npy.FloatArray x = Npy.readFloat32(file(name + ".x.npy"));
        int b = x.dim(0), t = x.dim(1);
        Fixtures.Out out = Fixtures.forward(m, backend, x.data(), t, b, null);
        float[] want = Npy.readFloat32(file(name + ".y.npy")).data();
        boolean seq = info(name).get("return_sequences").getAsBoolean();
        if (seq) return Fixtures.relError(out.y(), want);
        LstmConfig c = m.config();
        int h = c.outputSize(), dirs = c.directions(), last = (c.layers() - 1) * dirs;
        float[] got = new float[b * dirs * h];
        for (int i = 0; i < b; i++) {
            for (int d = 0; d < dirs; d++) {
                System.arraycopy(out.h(), ((last + d) * b + i) * h, got, (i * dirs + d) * h, h);
            }
        }
        return Fixtures.relError(got, want);
    }

    static Stream<Arguments> files() {
        List<Arguments> a = new ArrayList<>();
        for (String name : NAMES) {
            for (String ext : FILES) a.add(Arguments.of(name, ext));
        }
        return a.stream();
    }

    @ParameterizedTest(name = "{0}{1}")
    @MethodSource("files")
    void describesWhatItFound(String name, String ext) throws IOException {
        LstmModel m = KerasImporter.load(file(name + ext));
        JsonObject info = info(name);
        LstmConfig c = m.config();
        assertEquals(Layout.BATCH_MAJOR, c.layout(), "Keras is batch-first");
        assertEquals(info.get("input_size").getAsInt(), c.inputSize(), "input size");
        assertEquals(info.get("hidden_size").getAsInt(), c.hiddenSize(), "hidden size");
        assertEquals(info.get("num_layers").getAsInt(), c.layers(), "layers");
        assertEquals(info.get("bidirectional").getAsBoolean(), c.bidirectional(), "bidirectional");
        assertEquals(info.get("bias").getAsBoolean(), m.info().bias(), "bias");
        assertEquals(List.of("F32"), m.info().dtypes(), "dtype");
        assertEquals((m.info().bias() ? 3 : 2) * c.stateLayers(), m.info().tensors().size(), "datasets read");
        String d = m.describe();
        assertTrue(d.startsWith("Keras LSTM"), d);
        assertTrue(d.contains(c.layers() + (c.layers() == 1 ? " layer" : " layers")), d);
        assertTrue(d.contains("hidden " + c.hiddenSize()) && d.contains("input " + c.inputSize()), d);
        if (!ext.equals(".weights.h5")) {   // without a config, return_sequences is not known
            assertEquals(info.get("return_sequences").getAsBoolean(), KerasImporter.returnsSequences(m), d);
        }
        for (JsonElement s : info.getAsJsonArray("skipped")) assertTrue(d.contains(s.getAsString()), d);
    }

    /** The fixtures tell the gates apart: swapping two gates' columns of the imported weights breaks the match. */
    @Test
    void aSwappedGateFails() throws IOException {
        LstmModel m = KerasImporter.load(file("lstm1.keras"));
        assertTrue(error(m, "lstm1", "reference") <= TOLERANCE);
        for (int[] swap : new int[][] {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}}) {
            LstmConfig c = m.config();
            LstmWeights w = m.weights().get(0, 0);
            int h = c.hiddenSize();
            float[] wIh = w.wIh().toArray(ValueLayout.JAVA_FLOAT);
            float[] wHh = w.wHh().toArray(ValueLayout.JAVA_FLOAT);
            float[] bIh = w.bIh().toArray(ValueLayout.JAVA_FLOAT);
            Fixtures.swapRows(wIh, swap[0] * h, swap[1] * h, h, c.inputSize());
            Fixtures.swapRows(wHh, swap[0] * h, swap[1] * h, h, h);
            Fixtures.swapRows(bIh, swap[0] * h, swap[1] * h, h, 1);
            LstmWeights bad = LstmWeights.builder(MemorySegment.ofArray(wIh), MemorySegment.ofArray(wHh))
                    .bias(MemorySegment.ofArray(bIh), w.bHh()).build();
            LstmModel swapped = new LstmModel(c, StackWeights.of(c, bad), m.info());
            double err = error(swapped, "lstm1", "reference");
            assertTrue(err > 1e-2, "gates " + swap[0] + "↔" + swap[1] + " swapped still match Keras (error "
                    + Fixtures.fmt(err) + ")");
        }
    }


    static Stream<String> refused() throws IOException {
        try (Stream<Path> s = Files.list(dir())) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("bad_") && n.endsWith(".keras"))
                    .map(n -> n.substring(0, n.length() - ".keras".length())).sorted().toList().stream();
        }
    }

    /** Models saved by Keras with what this library does not compute: refused, naming the file and the setting. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("refused")
    void refusesByName(String name) throws IOException {
        Path f = file(name + ".keras");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Models.load(f, null));
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
        for (JsonElement w : info(name).getAsJsonArray("words")) {
            assertTrue(e.getMessage().contains(w.getAsString()), "'" + w.getAsString() + "' not in: " + e.getMessage());
        }
    }

    @Test
    void refusalsAreAllThere() throws IOException {
        assertEquals(9, refused().count(), "bad_*.keras fixtures");
    }
}
