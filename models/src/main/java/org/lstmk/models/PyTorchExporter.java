package org.lstmk.models;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.StackWeights;

/**
 * Writes weights as a PyTorch {@code nn.LSTM} state_dict in safetensors, loadable with
 * {@code model.load_state_dict(safetensors.torch.load_file(path))} into an {@code nn.LSTM} of the same configuration
 * (and by {@link PyTorchImporter}). Keys in PyTorch's order ({@code weight_ih_l0, weight_hh_l0, bias_ih_l0,
 * bias_hh_l0, weight_hr_l0}, then {@code _reverse}, then the next layer), optionally under a module prefix.
 */
public final class PyTorchExporter {
    private PyTorchExporter() {}

    /** Writes {@code weights} as {@code F32} tensors without a prefix. */
    public static void save(StackWeights weights, Path file) throws IOException {
        save(weights, file, "", Safetensors.Dtype.F32);
    }

    /**
     * Writes {@code weights} to {@code file} atomically, each tensor as {@code dtype} ({@code F32}, {@code F16} or
     * {@code BF16}), keys under {@code prefix} ({@code "encoder"} or {@code "encoder."}; empty for none).
     *
     * @throws IllegalArgumentException if the configuration uses a feature PyTorch's nn.LSTM lacks (peepholes, clip)
     */
    public static void save(StackWeights weights, Path file, String prefix, Safetensors.Dtype dtype) throws IOException {
        LstmConfig c = weights.config();
        if (c.peepholes() || c.hasCellClip()) {
            throw new IllegalArgumentException("PyTorch's nn.LSTM has no " + (c.peepholes() ? "peepholes" : "cell clip")
                    + ": " + c + " cannot be saved as its state_dict");
        }
        String p = prefix == null ? "" : prefix;
        if (!p.isEmpty() && !p.endsWith(".")) p += ".";
        Map<String, Safetensors.Tensor> out = new LinkedHashMap<>();
        long h4 = c.gateRows();
        for (int l = 0; l < c.layers(); l++) {
            for (int d = 0; d < c.directions(); d++) {
                LstmWeights w = weights.get(l, d);
                String sfx = "_l" + l + (d == 1 ? "_reverse" : "");
                put(out, p + "weight_ih" + sfx, w.wIh(), dtype, h4, c.layerInputSize(l));
                put(out, p + "weight_hh" + sfx, w.wHh(), dtype, h4, c.outputSize());
                if (w.hasBias()) {
                    put(out, p + "bias_ih" + sfx, w.bIh(), dtype, h4);
                    put(out, p + "bias_hh" + sfx, w.bHh(), dtype, h4);
                }
                if (c.hasProjection()) put(out, p + "weight_hr" + sfx, w.wHr(), dtype, c.projectionSize(), c.hiddenSize());
            }
        }
        Safetensors.write(file, out, Map.of("format", "pt"));
    }

    /** Writes {@code model}'s weights under the prefix it was read with, as F32. */
    public static void save(LstmModel model, Path file) throws IOException {
        save(model.weights(), file, model.info().prefix(), Safetensors.Dtype.F32);
    }

    private static void put(Map<String, Safetensors.Tensor> out, String name, MemorySegment seg,
                            Safetensors.Dtype dtype, long... shape) {
        long n = 1;
        for (long s : shape) n *= s;
        if (seg == null) throw new IllegalArgumentException(name + ": missing in the weights");
        if (seg.byteSize() < 4 * n) {
            throw new IllegalArgumentException(name + ": expected " + n + " floats, the buffer holds " + seg.byteSize() / 4);
        }
        out.put(name, new Safetensors.Tensor(dtype, shape, seg.asSlice(0, 4 * n).toArray(ValueLayout.JAVA_FLOAT)));
    }
}
