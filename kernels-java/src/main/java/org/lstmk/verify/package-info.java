/**
 * The one comparison harness, in the spirit of oneDNN's benchdnn: {@link org.lstmk.verify.Comparison} (how two
 * outputs are compared), {@link org.lstmk.verify.Tolerance} (how much float32 may differ from the double
 * reference), {@link org.lstmk.verify.ConformanceSuite} (the fixed problem set every backend must pass; used by
 * {@code lstmk verify} and by every backend's tests) and {@link org.lstmk.verify.VerifyingBackend}
 * ({@code -Dlstm.verify=true}: check every call).
 */
package org.lstmk.verify;
