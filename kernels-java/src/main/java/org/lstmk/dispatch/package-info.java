/**
 * Backend discovery and choice: {@link org.lstmk.dispatch.Dispatcher}. Backends are found with
 * {@link java.util.ServiceLoader}; each says whether it can run here; the user may force one; the choice and the
 * reasons for skipping better ones are logged once and exposed as {@link org.lstmk.api.BackendSelection}.
 */
package org.lstmk.dispatch;
