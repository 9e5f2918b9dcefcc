//! The API's routing: one `PathRouterService` that matches the path and
//! calls the handler, instead of picoserve's `Router::route` chain.
//!
//! picoserve's `get` also answers `HEAD` by calling the same handler with a
//! second `ResponseWriter` type that drops the body, so every handler, body
//! writer and response type was compiled twice: 15 KB of the C6 receiver's
//! flash. Here each handler is compiled once, for the one writer type, and
//! `HEAD` gets 405 like any method other than `GET`.

use embassy_sync::blocking_mutex::raw::RawMutex;
use picoserve::io::Read;
use picoserve::request::{Path, Request};
use picoserve::response::{IntoResponse, ResponseWriter, StatusCode};
use picoserve::routing::PathRouterService;
use picoserve::ResponseSent;

use crate::handlers::{self, Failure, ImageName};
use crate::socket::SocketLink;
use crate::{stream, websocket, Api, Clock, Port, ReceiverAccess};

/// The whole API for one connection: the handlers, which port it came in
/// on, and the link to its socket (for the WebSocket's control frames).
pub struct Routes<'a, M: RawMutex, N, C> {
    pub api: &'a Api<'a, M, N, C>,
    pub port: Port,
    pub link: &'a SocketLink,
}

impl<M: RawMutex, N: ReceiverAccess, C: Clock> PathRouterService for Routes<'_, M, N, C> {
    async fn call_path_router_service<R: Read, W: ResponseWriter<Error = R::Error>>(
        &self,
        _state: &(),
        _path_parameters: (),
        path: Path<'_>,
        request: Request<'_, R>,
        writer: W,
    ) -> Result<ResponseSent, W::Error> {
        let api = self.api;
        let parts = request.parts;
        let connection = request.body_connection.finalize().await?;
        if parts.method() == "HEAD" {
            // A response to HEAD carries no body (the client would read it as
            // the next response); Allow says what is served.
            let response = (StatusCode::METHOD_NOT_ALLOWED, ("Allow", "GET"), picoserve::response::NoContent);
            return response.write_to(connection, writer).await;
        }
        if parts.method() != "GET" {
            let failure = Failure::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format_args!("{} is not served: this API answers GET only", parts.method()),
            );
            return failure.write_to(connection, writer).await;
        }
        match path.encoded() {
            "/" => handlers::root(api, self.port).await.write_to(connection, writer).await,
            "/image" => handlers::newest_image(api).await.write_to(connection, writer).await,
            "/capture" => {
                let query = handlers::CaptureQuery::from_parts(&parts);
                handlers::capture(api, query).await.write_to(connection, writer).await
            }
            "/images" => handlers::image_list(api).await.write_to(connection, writer).await,
            "/status" => handlers::status(api).await.write_to(connection, writer).await,
            "/control" => {
                let query = handlers::ControlQuery::from_parts(&parts);
                handlers::control(api, query).await.write_to(connection, writer).await
            }
            "/metrics" => handlers::metrics(api).await.write_to(connection, writer).await,
            "/stream" => stream::mjpeg(api).await.write_to(connection, writer).await,
            "/ws" => match websocket::Upgrade::from_parts(&parts) {
                Some(upgrade) => websocket::upgrade(api, upgrade, self.link).await.write_to(connection, writer).await,
                None => websocket::not_an_upgrade().write_to(connection, writer).await,
            },
            other => match other.strip_prefix("/images/").and_then(|name| name.parse::<ImageName>().ok()) {
                Some(name) => handlers::image(api, name).await.write_to(connection, writer).await,
                None => {
                    let failure = Failure::new(StatusCode::NOT_FOUND, format_args!("{other} not found"));
                    failure.write_to(connection, writer).await
                }
            },
        }
    }
}
