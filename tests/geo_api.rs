//! Locations, floor plans and device places as an operator sets them up, and the map endpoints
//! reading them back; the walls between organizations hold here too.

use serde_json::{Value, json};

use crate::operator_api::{call, create_device, create_org, server};

#[test]
fn places_floorplans_and_the_map() {
    let dir = tempfile::tempdir().unwrap();
    let (s, admin) = server(&dir.path().join("data"));
    let org = create_org(&s, &admin, "Geo")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = create_org(&s, &admin, "Other")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = |p: &str| s.url(p);
    let post = |p: &str, body: Value| call("POST", &url(p), Some(&admin), Some(&body));

    // An outdoor location with a point, an indoor one with a floor plan.
    let (st, tower) = post(
        "/api/v1/geo/location/",
        json!({"organization": org, "name": "Tower", "type": "outdoor", "address": "Via Roma 1",
               "geometry": {"type": "Point", "coordinates": [12.4964, 41.9028]}}),
    );
    assert_eq!(st, 201, "{tower}");
    assert_eq!(tower["geometry"]["coordinates"], json!([12.4964, 41.9028]));
    let (_, hq) = post(
        "/api/v1/geo/location/",
        json!({"organization": org, "name": "HQ", "type": "indoor",
               "geometry": {"type": "Point", "coordinates": [9.19, 45.4642]}}),
    );
    let (st, v) = post(
        "/api/v1/geo/floorplan/",
        json!({"location": tower["id"], "floor": 1}),
    );
    assert_eq!(st, 400, "outdoor locations have no floor plans: {v}");
    let (st, fp) = post(
        "/api/v1/geo/floorplan/",
        json!({"location": hq["id"], "floor": 2}),
    );
    assert_eq!(st, 201, "{fp}");
    let img_url = url(&format!(
        "/api/v1/geo/floorplan/{}/image/",
        fp["id"].as_str().unwrap()
    ));
    let png = b"\x89PNG\r\n\x1a\n-a-floor-plan-";
    let r = ureq::put(&img_url)
        .set("Authorization", &format!("Bearer {admin}"))
        .set("Content-Type", "image/png")
        .send_bytes(png)
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = ureq::get(&img_url)
        .set("Authorization", &format!("Bearer {admin}"))
        .call()
        .unwrap();
    assert_eq!(r.header("Content-Type"), Some("image/png"));
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut r.into_reader(), &mut got).unwrap();
    assert_eq!(got, png);

    // Devices: two in the tower (one ok by default unknown), one indoors, one nowhere.
    let d1 = create_device(&s, &admin, &org, "t1", "00:00:00:00:06:01");
    let d2 = create_device(&s, &admin, &org, "t2", "00:00:00:00:06:02");
    let d3 = create_device(&s, &admin, &org, "in1", "00:00:00:00:06:03");
    create_device(&s, &admin, &org, "nowhere", "00:00:00:00:06:04");
    let place = |d: &Value, body: Value| {
        call(
            "PUT",
            &url(&format!(
                "/api/v1/controller/device/{}/location/",
                d["id"].as_str().unwrap()
            )),
            Some(&admin),
            Some(&body),
        )
    };
    for d in [&d1, &d2] {
        let (st, v) = place(d, json!({"location": tower["id"]}));
        assert_eq!(st, 200, "{v}");
    }
    let (st, v) = place(
        &d3,
        json!({"location": hq["id"], "floorplan": fp["id"], "indoor": "120.5,40"}),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["floorplan"]["floor"], 2);
    // PATCH changes only what is sent; PUT replaces the whole place.
    let patch = call(
        "PATCH",
        &url(&format!(
            "/api/v1/controller/device/{}/location/",
            d3["id"].as_str().unwrap()
        )),
        Some(&admin),
        Some(&json!({"indoor": "10,20"})),
    );
    assert_eq!(patch.0, 200, "{}", patch.1);
    assert_eq!(
        (
            patch.1["location"]["id"].clone(),
            patch.1["floorplan"]["id"].clone(),
            patch.1["indoor"].clone()
        ),
        (hq["id"].clone(), fp["id"].clone(), json!("10,20"))
    );
    let (st, v) = place(
        &d3,
        json!({"location": hq["id"], "floorplan": fp["id"], "indoor": "120.5,40"}),
    );
    assert_eq!((st, v["indoor"].clone()), (200, json!("120.5,40")));
    // An indoor position needs a floor plan; a location of another organization does not exist.
    let (st, _) = place(&d1, json!({"location": tower["id"], "indoor": "1,2"}));
    assert_eq!(st, 400);
    let (_, foreign) = post(
        "/api/v1/geo/location/",
        json!({"organization": other, "name": "Elsewhere"}),
    );
    let (st, v) = place(&d1, json!({"location": foreign["id"]}));
    assert_eq!(st, 400, "{v}");

    // The map: one feature per placed location, with the status mix.
    let (st, g) = call(
        "GET",
        &url("/api/v1/monitoring/geojson/"),
        Some(&admin),
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(g["type"], "FeatureCollection");
    assert_eq!(g["count"], 2);
    let tower_f = g["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == tower["id"])
        .unwrap();
    assert_eq!(tower_f["properties"]["device_count"], 2);
    assert_eq!(tower_f["properties"]["unknown_count"], 2);
    assert_eq!(
        tower_f["geometry"]["coordinates"],
        json!([12.4964, 41.9028])
    );

    // A location's devices, searchable.
    let loc_devices = |q: &str| {
        call(
            "GET",
            &url(&format!(
                "/api/v1/monitoring/location/{}/device/{q}",
                tower["id"].as_str().unwrap()
            )),
            Some(&admin),
            None,
        )
        .1
    };
    let v = loc_devices("");
    assert_eq!(v["count"], 2);
    assert_eq!(v["has_floorplan"], false);
    assert_eq!(v["results"][0]["monitoring"]["status"], "unknown");
    assert_eq!(loc_devices("?search=T2")["count"], 1);
    assert_eq!(loc_devices("?search=06:01")["count"], 1);
    assert_eq!(loc_devices("?status=ok&status=problem")["count"], 0);
    assert_eq!(loc_devices("?status=unknown")["count"], 2);

    // Indoor coordinates.
    let (st, v) = call(
        "GET",
        &url(&format!(
            "/api/v1/monitoring/location/{}/indoor-coordinates/",
            hq["id"].as_str().unwrap()
        )),
        Some(&admin),
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(v["floors"], json!([2]));
    assert_eq!(v["results"][0]["device_name"], "in1");
    assert_eq!(
        v["results"][0]["coordinates"],
        json!({"lat": 40.0, "lng": 120.5})
    );

    // Nearby devices, by operator and by the device's own key.
    let near_url = |q: &str| {
        url(&format!(
            "/api/v1/monitoring/device/{}/nearby-devices/{q}",
            d1["id"].as_str().unwrap()
        ))
    };
    let (st, v) = call("GET", &near_url(""), Some(&admin), None);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["count"], 2);
    assert_eq!(v["results"][0]["name"], "t2");
    assert_eq!(v["results"][0]["distance"], json!(0.0));
    assert_eq!(v["results"][1]["name"], "in1");
    let km = v["results"][1]["distance"].as_f64().unwrap() / 1000.0;
    assert!((470.0..485.0).contains(&km), "{km}");
    let (_, v) = call("GET", &near_url("?distance__lte=1000"), Some(&admin), None);
    assert_eq!(v["count"], 1);
    let (st, v) = call(
        "GET",
        &near_url(&format!("?key={}", d1["key"].as_str().unwrap())),
        None,
        None,
    );
    assert_eq!((st, v["count"].clone()), (200, json!(2)));
    let (st, _) = call("GET", &near_url("?key=wrong"), None, None);
    assert_eq!(st, 404);

    // Metrics of a placed device carry its location and floor plan tags.
    let (key, id) = (d3["key"].as_str().unwrap(), d3["id"].as_str().unwrap());
    // Two samples: the second one's traffic is written (the first has no predecessor).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for (i, rx) in [(2u64, 1u64), (1, 5)] {
        let t = now - 300 * i;
        let (h, m, sec) = (t % 86_400 / 3600, t % 3600 / 60, t % 60);
        // The same UTC day is enough here: format today's date from the server's own clock.
        let day = crate::operator_api::agent_date(t);
        let r = ureq::post(&url(&format!(
            "/api/v1/monitoring/device/{id}/?key={key}&time={day}_{h:02}:{m:02}:{sec:02}.000000"
        )))
        .send_string(&format!(
            r#"{{"type":"DeviceMonitoring","interfaces":[{{"name":"wlan0","statistics":{{"rx_bytes":{rx},"tx_bytes":2}}}}]}}"#
        ))
        .unwrap();
        assert_eq!(r.status(), 200);
    }
    let q = format!("SHOW SERIES FROM traffic WHERE object_id = '{id}'");
    let (_, text) = crate::util::get(&format!(
        "{}?db=openwisp2&q={}",
        url("/query"),
        q.replace(' ', "%20")
            .replace('\'', "%27")
            .replace('=', "%3D")
    ));
    assert!(
        text.contains(&format!("floorplan_id={}", fp["id"].as_str().unwrap()))
            && text.contains(&format!("location_id={}", hq["id"].as_str().unwrap())),
        "{text}"
    );

    // Deleting the indoor location detaches its device.
    let (st, _) = call(
        "DELETE",
        &url(&format!(
            "/api/v1/geo/location/{}/",
            hq["id"].as_str().unwrap()
        )),
        Some(&admin),
        None,
    );
    assert_eq!(st, 204);
    let (_, v) = call(
        "GET",
        &url(&format!("/api/v1/controller/device/{id}/location/")),
        Some(&admin),
        None,
    );
    assert_eq!(
        v,
        json!({"location": null, "floorplan": null, "indoor": null})
    );

    // Another organization's admin sees none of it.
    let (st, _) = call(
        "POST",
        &url("/api/v1/users/user/"),
        Some(&admin),
        Some(&json!({"username": "otto", "password": "password-123",
                     "organization_users": [{"organization": other, "is_admin": true}]})),
    );
    assert_eq!(st, 201);
    let otto = crate::operator_api::token(&s, "otto", "password-123");
    let (_, g) = call(
        "GET",
        &url("/api/v1/monitoring/geojson/"),
        Some(&otto),
        None,
    );
    assert_eq!(g["count"], 0);
    let (_, l) = call("GET", &url("/api/v1/geo/location/"), Some(&otto), None);
    assert_eq!(l["count"], 1);
    assert_eq!(l["results"][0]["name"], "Elsewhere");
    let (st, _) = call(
        "GET",
        &url(&format!(
            "/api/v1/geo/location/{}/",
            tower["id"].as_str().unwrap()
        )),
        Some(&otto),
        None,
    );
    assert_eq!(st, 404);
    let (st, _) = call("GET", &img_url, Some(&otto), None);
    assert_eq!(st, 404);
}
