package org.lstmk.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.StackWeights;

/** Every PyTorch fixture, imported, reproduces torch's own output: reference and SIMD, full and packed lengths. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class PyTorchFixturesTest {
    /** f32 end to end; the reference computes in double, torch in float: a few ulps over T = 6 and 2 layers. */
    static final double TOLERANCE = 1e-5;

    static Stream<Arguments> cases() {
        List<Arguments> a = new ArrayList<>();
        for (String name : Fixtures.NAMES) {
            for (String backend : List.of("reference", "simd")) {
                a.add(Arguments.of(name, backend, false));
                a.add(Arguments.of(name, backend, true));
            }
        }
        return a.stream();
    }

    @ParameterizedTest(name = "{0} on {1}, lengths={2}")
    @MethodSource("cases")
    void reproducesTorch(String name, String backend, boolean packed) throws IOException {
        LstmModel m = Fixtures.model(name);
        Npy.FloatArray x = Npy.readFloat32(Fixtures.file(name + ".x.npy"));
        boolean batchFirst = Fixtures.info(name).get("batch_first").getAsBoolean();
        int t = batchFirst ? x.dim(1) : x.dim(0), b = batchFirst ? x.dim(0) : x.dim(1);
        int[] lengths = null;
        String pre = name + ".";
        if (packed) {
            long[] l = Npy.readIntegers(Fixtures.file(name + ".lengths.npy")).data();
            lengths = new int[l.length];
            for (int i = 0; i < l.length; i++) lengths[i] = (int) l[i];
            pre = name + ".packed.";
        }
        Fixtures.Out got = Fixtures.forward(m, backend, x.data(), t, b, lengths);
        check(name, "y", got.y(), Npy.readFloat32(Fixtures.file(pre + "y.npy")));
        check(name, "h_n", got.h(), Npy.readFloat32(Fixtures.file(pre + "h_n.npy")));
        check(name, "c_n", got.c(), Npy.readFloat32(Fixtures.file(pre + "c_n.npy")));
    }

    private static void check(String name, String what, float[] got, Npy.FloatArray want) {
        double err = Fixtures.relError(got, want.data());
        assertTrue(err <= TOLERANCE, name + " " + what + ": relative error " + Fixtures.fmt(err) + " > " + TOLERANCE);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("names")
    void describesWhatItFound(String name) throws IOException {
        LstmModel m = Fixtures.model(name);
        JsonObject info = Fixtures.info(name);
        LstmConfig c = m.config();
        assertEquals(info.get("input_size").getAsInt(), c.inputSize(), "input size");
        assertEquals(info.get("hidden_size").getAsInt(), c.hiddenSize(), "hidden size");
        assertEquals(info.get("num_layers").getAsInt(), c.layers(), "layers");
        assertEquals(info.get("bidirectional").getAsBoolean(), c.bidirectional(), "bidirectional");
        assertEquals(info.get("proj_size").getAsInt(), c.projectionSize(), "projection");
        assertEquals(info.get("bias").getAsBoolean(), m.info().bias(), "bias");
        assertEquals(info.get("prefix").getAsString(), m.info().prefix(), "prefix");
        assertEquals(List.of(info.get("dtype").getAsString()), m.info().dtypes(), "dtype");
        int perLayer = (info.get("bias").getAsBoolean() ? 4 : 2) + (c.hasProjection() ? 1 : 0);
        assertEquals(perLayer * c.stateLayers(), m.info().tensors().size(), "tensors read");
        String d = m.describe();
        assertTrue(d.contains(c.layers() + (c.layers() == 1 ? " layer" : " layers")), d);
        assertTrue(d.contains(c.bidirectional() ? "bidirectional" : "unidirectional"), d);
        assertTrue(d.contains("hidden " + c.hiddenSize()) && d.contains("input " + c.inputSize()), d);
        assertTrue(d.contains(info.get("dtype").getAsString()), d);
        if (!m.info().prefix().isEmpty()) assertTrue(d.contains("'" + m.info().prefix().replace(".", "") + "'"), d);
    }

    static Stream<String> names() { return Stream.of(Fixtures.NAMES); }

    /** The fixtures can tell the gates apart: swapping two gates' rows of one tensor breaks the match. */
    @Test
    void aSwappedGateFails() throws IOException {
        for (int[] swap : new int[][] {{0, 1}, {1, 2}, {2, 3}, {0, 3}}) {
            LstmModel m = Fixtures.model("lstm1");
            LstmConfig c = m.config();
            LstmWeights w = m.weights().get(0, 0);
            int h = c.hiddenSize(), in = c.inputSize();
            float[] wIh = w.wIh().toArray(ValueLayout.JAVA_FLOAT);
            float[] bIh = w.bIh().toArray(ValueLayout.JAVA_FLOAT);
            Fixtures.swapRows(wIh, swap[0] * h, swap[1] * h, h, in);
            Fixtures.swapRows(bIh, swap[0] * h, swap[1] * h, h, 1);
            LstmWeights bad = LstmWeights.builder(MemorySegment.ofArray(wIh), w.wHh())
                    .bias(MemorySegment.ofArray(bIh), w.bHh()).build();
            LstmModel swapped = new LstmModel(c, StackWeights.of(c, bad), m.info());
            Npy.FloatArray x = Npy.readFloat32(Fixtures.file("lstm1.x.npy"));
            Fixtures.Out got = Fixtures.forward(swapped, "reference", x.data(), x.dim(0), x.dim(1), null);
            double err = Fixtures.relError(got.y(), Npy.readFloat32(Fixtures.file("lstm1.y.npy")).data());
            assertTrue(err > 1e-2, "gates " + swap[0] + "↔" + swap[1] + " swapped still match torch (error "
                    + Fixtures.fmt(err) + ")");
        }
    }


    /** int32 lengths read the same as int64 ones. */
    @Test
    void lengthsInEitherIntegerType() throws IOException {
        Npy.IntArray l64 = Npy.readIntegers(Fixtures.file("bi2.lengths.npy"));
        Npy.IntArray l32 = Npy.readIntegers(Fixtures.file("bi2.lengths32.npy"));
        assertEquals(Npy.Type.INT64, l64.type());
        assertEquals(Npy.Type.INT32, l32.type());
        assertArrayEquals(new long[] {6, 3, 1, 5}, l64.data());
        assertArrayEquals(l64.data(), l32.data());
    }
}
