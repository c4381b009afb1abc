package org.lstmk.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.StackWeights;

/** Choosing the LSTM in a file, what a mismatched state_dict gets, and the writer's round trip. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class PyTorchImporterTest {
    @TempDir Path tmp;

    @Test
    void picksTheLstmByName() throws IOException {
        Path two = Fixtures.file("two_lstms.safetensors");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> PyTorchImporter.load(two));
        assertTrue(e.getMessage().contains("2 LSTMs") && e.getMessage().contains("'encoder'")
                && e.getMessage().contains("'decoder'"), e.getMessage());
        assertEquals(1, PyTorchImporter.load(two, "encoder").config().layers());
        assertEquals(2, PyTorchImporter.load(two, "decoder.").config().layers());
        assertEquals(7, Models.load(two, "decoder").config().hiddenSize());
        e = assertThrows(ModelFormatException.class, () -> PyTorchImporter.load(two, "encoder.rnn"));
        assertTrue(e.getMessage().contains("no nn.LSTM named 'encoder.rnn'") && e.getMessage().contains("'decoder'"),
                e.getMessage());
        // The only LSTM among other modules' tensors is found without a name; the other tensors are ignored.
        LstmModel m = PyTorchImporter.load(Fixtures.file("prefixed.safetensors"));
        assertEquals("encoder.", m.info().prefix());
        assertTrue(m.info().tensors().stream().allMatch(t -> t.startsWith("encoder.")), m.info().tensors().toString());
        e = assertThrows(ModelFormatException.class, () -> PyTorchImporter.load(Fixtures.file("prefixed.safetensors"), ""));
        assertTrue(e.getMessage().contains("'encoder'"), e.getMessage());
    }

    @Test
    void noLstmInTheFile() throws IOException {
        Path f = tmp.resolve("linear.safetensors");
        Safetensors.write(f, Map.of("head.weight", Safetensors.Tensor.f32(new float[6], 2, 3)), null);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> PyTorchImporter.load(f));
        assertTrue(e.getMessage().startsWith(f + ": no nn.LSTM in the file") && e.getMessage().contains("head.weight"),
                e.getMessage());
        e = assertThrows(ModelFormatException.class, () -> Models.load(tmp.resolve("model.bin"), null));
        assertTrue(e.getMessage().contains("unknown model format"), e.getMessage());
    }

    @Test
    void mismatchedStateDictsNameTheTensor() throws IOException {
        Map<String, Safetensors.Tensor> bi2 = state("bi2");

        expect(without(bi2, "weight_hh_l1_reverse"), "weight_hh_l1_reverse", "missing");
        expect(without(bi2, "bias_hh_l0"), "bias_hh_l0", "missing");
        expect(with(bi2, "weight_hh_l0", Safetensors.Tensor.f32(new float[24 * 5], 24, 5)), "weight_hh_l0",
                "expected shape [24, 6]");
        expect(with(bi2, "weight_ih_l1", Safetensors.Tensor.f32(new float[24 * 6], 24, 6)), "weight_ih_l1",
                "expected shape [24, 12] (4·H × D·H_out");
        expect(with(bi2, "bias_ih_l1_reverse", Safetensors.Tensor.f32(new float[23], 23)), "bias_ih_l1_reverse",
                "expected shape [24]");
        expect(with(bi2, "weight_hh_l0", Safetensors.Tensor.f32(new float[22 * 6], 22, 6)), "weight_hh_l0", "4·H rows");
        expect(with(bi2, "weight_ih_l3", Safetensors.Tensor.f32(new float[24 * 12], 24, 12)), "weight_ih_l2", "missing");
        expect(with(bi2, "weight_hr_l1", Safetensors.Tensor.f32(new float[12], 2, 6)), "weight_hr_l1",
                "no projection");
        expect(with(bi2, "something", Safetensors.Tensor.f32(new float[1], 1)), "something", "not a tensor of an nn.LSTM");
        expect(with(state("nobias"), "bias_ih_l0_reverse", Safetensors.Tensor.f32(new float[24], 24)),
                "bias_ih_l0_reverse", "no bias");
        Map<String, Safetensors.Tensor> uni = state("lstm1");
        expect(with(uni, "weight_ih_l0_reverse", Safetensors.Tensor.f32(new float[28 * 5], 28, 5)), "weight_hh_l0_reverse",
                "missing");
        Map<String, Safetensors.Tensor> proj = state("proj");
        expect(with(proj, "weight_hr_l0", Safetensors.Tensor.f32(new float[8 * 8], 8, 8)), null,
                "projectionSize must be < hiddenSize");
        expect(with(proj, "weight_hr_l1", Safetensors.Tensor.f32(new float[3 * 7], 3, 7)), "weight_hr_l1",
                "expected shape [3, 8] (P × H)");

        // An integer tensor where a weight belongs.
        Path f = tmp.resolve("int.safetensors");
        Files.write(f, SafetensorsTest.raw("{\"weight_ih_l0\":{\"dtype\":\"I32\",\"shape\":[4,1],\"data_offsets\":[0,16]},"
                + "\"weight_hh_l0\":{\"dtype\":\"F32\",\"shape\":[4,1],\"data_offsets\":[16,32]}}", new byte[32]));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> PyTorchImporter.load(f));
        assertTrue(e.getMessage().contains("'weight_ih_l0'") && e.getMessage().contains("got I32"), e.getMessage());
    }

    private void expect(Map<String, Safetensors.Tensor> state, String tensor, String what) throws IOException {
        Path f = tmp.resolve("bad.safetensors");
        Safetensors.write(f, state, null);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> PyTorchImporter.load(f), what);
        String m = e.getMessage();
        assertTrue(m.startsWith(f + ": "), "names the file: " + m);
        if (tensor != null) {
            assertTrue(m.contains("tensor '" + tensor + "'"), "names " + tensor + ": " + m);
            assertEquals(tensor, e.tensor());
        }
        assertTrue(m.contains(what), "expected '" + what + "': " + m);
        assertFalse(m.contains("\n"), "one line: " + m);
    }

    /** Save → load gives the same weights, in every dtype, with a prefix, for every fixture. */
    @Test
    void writerRoundTrips() throws IOException {
        for (String name : Fixtures.NAMES) {
            LstmModel m = Fixtures.model(name);
            Path f = tmp.resolve(name + ".safetensors");
            PyTorchExporter.save(m, f);
            LstmModel back = PyTorchImporter.load(f, m.info().prefix());
            assertEquals(m.config().toBuilder().layout(back.config().layout()).build(), back.config(), name);
            assertSameWeights(m.weights(), back.weights(), name);
            assertEquals(m.info().tensors(), back.info().tensors(), name + ": PyTorch's key order");
        }
        // bf16 weights written as BF16 come back bit-exact; an F32 model written as F16 comes back rounded.
        LstmModel bf = Fixtures.model("bf16");
        Path f = tmp.resolve("bf.safetensors");
        PyTorchExporter.save(bf.weights(), f, "rnn", Safetensors.Dtype.BF16);
        LstmModel back = PyTorchImporter.load(f);
        assertEquals("rnn.", back.info().prefix());
        assertEquals(List.of("BF16"), back.info().dtypes());
        assertSameWeights(bf.weights(), back.weights(), "bf16");
    }

    @Test
    void writerRejectsWhatPyTorchLacks() {
        LstmConfig c = LstmConfig.builder(2, 3).peepholes(true).build();
        float[] w = new float[12 * 3];
        LstmWeights lw = LstmWeights.builder(MemorySegment.ofArray(new float[24]), MemorySegment.ofArray(w))
                .peepholes(MemorySegment.ofArray(new float[9])).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PyTorchExporter.save(StackWeights.of(c, lw), tmp.resolve("p.safetensors")));
        assertTrue(e.getMessage().contains("peepholes"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("p.safetensors")));
    }

    private static void assertSameWeights(StackWeights a, StackWeights b, String what) {
        LstmConfig c = a.config();
        for (int l = 0; l < c.layers(); l++) {
            for (int d = 0; d < c.directions(); d++) {
                LstmWeights x = a.get(l, d), y = b.get(l, d);
                String at = what + " l" + l + " d" + d;
                assertArrayEquals(floats(x.wIh()), floats(y.wIh()), at + " wIh");
                assertArrayEquals(floats(x.wHh()), floats(y.wHh()), at + " wHh");
                assertArrayEquals(floats(x.bIh()), floats(y.bIh()), at + " bIh");
                assertArrayEquals(floats(x.bHh()), floats(y.bHh()), at + " bHh");
                assertArrayEquals(floats(x.wHr()), floats(y.wHr()), at + " wHr");
            }
        }
    }

    private static float[] floats(MemorySegment s) {
        return s == null ? null : s.toArray(ValueLayout.JAVA_FLOAT);
    }

    /** A fixture's state_dict as F32 tensors, in the file's order. */
    static Map<String, Safetensors.Tensor> state(String name) throws IOException {
        Map<String, Safetensors.Tensor> out = new LinkedHashMap<>();
        try (Safetensors.Reader r = Safetensors.open(Fixtures.file(name + ".safetensors"))) {
            for (Safetensors.TensorInfo t : r.tensors().values()) {
                out.put(t.name(), new Safetensors.Tensor(Safetensors.Dtype.F32, t.shape(), r.floats(t.name())));
            }
        }
        return out;
    }

    private static Map<String, Safetensors.Tensor> without(Map<String, Safetensors.Tensor> s, String name) {
        Map<String, Safetensors.Tensor> c = new LinkedHashMap<>(s);
        assertTrue(c.remove(name) != null, name);
        return c;
    }

    private static Map<String, Safetensors.Tensor> with(Map<String, Safetensors.Tensor> s, String name,
                                                        Safetensors.Tensor t) {
        Map<String, Safetensors.Tensor> c = new LinkedHashMap<>(s);
        c.put(name, t);
        return c;
    }
}
